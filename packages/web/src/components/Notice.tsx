/** Status messages live in one polite live region so screen readers hear saves and failures. */
export type NoticeState = { tone: 'success' | 'error' | 'info'; text: string } | null;

export function Notice({ notice }: { notice: NoticeState }) {
  return (
    <div className="notice-region" role="status" aria-live="polite">
      {notice && <div className={`notice notice-${notice.tone}`}>{notice.text}</div>}
    </div>
  );
}
