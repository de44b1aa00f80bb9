import { Link } from '../router.tsx';

/** The full-page answer for 403 / 404: says what happened and offers the way back. */
export function ErrorPage({ status, title, message }: { status: number; title: string; message: string }) {
  return (
    <section className="error-page" aria-labelledby="error-title">
      {status > 0 && <p className="error-code">{status}</p>}
      <h1 id="error-title">{title}</h1>
      <p className="muted">{message}</p>
      <Link href="/msp/settings/extensions" className="btn btn-secondary">
        Back to extensions
      </Link>
    </section>
  );
}
