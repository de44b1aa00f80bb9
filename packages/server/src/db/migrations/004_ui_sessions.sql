-- Web UI sign-in. Passwords are scrypt hashes ("scrypt$N$r$p$salt$hash");
-- a user without one cannot sign in (API keys stay the machine credential).
ALTER TABLE users ADD COLUMN password_hash text;
CREATE INDEX users_email_idx ON users (lower(email));

-- One row per signed-in browser. Only sha256(token) is stored, so a database
-- dump cannot be replayed as a cookie. Deleting a user signs it out everywhere.
CREATE TABLE ui_sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token_sha256 text NOT NULL UNIQUE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX ui_sessions_expiry_idx ON ui_sessions (expires_at);
