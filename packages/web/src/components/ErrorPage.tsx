import { Link } from '../router.tsx';

/** The full-page answer for 403 / 404: says what happened and offers the way back. */
export function ErrorPage({
  status,
  title,
  message,
  back = { href: '/msp/settings/extensions', label: 'Back to extensions' },
}: {
  status: number;
  title: string;
  message: string;
  /** The way back: the staff app's extensions by default, the portal's home in the client portal. */
  back?: { href: string; label: string };
}) {
  return (
    <section className="error-page" aria-labelledby="error-title">
      {status > 0 && <p className="error-code">{status}</p>}
      <h1 id="error-title">{title}</h1>
      <p className="muted">{message}</p>
      <Link href={back.href} className="btn btn-secondary">
        {back.label}
      </Link>
    </section>
  );
}
