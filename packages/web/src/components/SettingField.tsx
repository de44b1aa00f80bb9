import type { UiSetting } from '@alga-psa/protocol';

interface Props {
  setting: UiSetting;
  value: string | boolean | string[];
  error?: string;
  disabled: boolean;
  onChange: (value: string | boolean | string[]) => void;
}

function defaultText(setting: UiSetting): string | null {
  const value = setting.default;
  if (value === undefined) return null;
  if (Array.isArray(value))
    return value.map((v) => setting.options?.find((o) => o.value === v)?.label ?? v).join(', ') || 'none';
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (setting.type === 'select') return setting.options?.find((o) => o.value === value)?.label ?? String(value);
  return String(value);
}

/** One manifest setting as a labelled input; hints and errors are tied to it with aria-describedby. */
export function SettingField({ setting, value, error, disabled, onChange }: Props) {
  const id = `setting-${setting.key}`;
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy =
    [setting.description || setting.default !== undefined ? hintId : '', error ? errorId : '']
      .filter(Boolean)
      .join(' ') || undefined;
  const common = {
    id,
    name: setting.key,
    disabled,
    'aria-invalid': error ? true : undefined,
    'aria-describedby': describedBy,
  };
  const fallback = defaultText(setting);
  // A cleared field is stored as nothing, and the extension then reads the default: say which value that is.
  const empty = value === '';
  const placeholder = empty && fallback !== null ? fallback : undefined;
  const hint = (setting.description || fallback !== null) && (
    <p className="field-hint" id={hintId}>
      {setting.description}
      {fallback !== null &&
        (empty ? (
          <span className="field-default field-in-effect"> Empty, so the default is in effect: {fallback}.</span>
        ) : (
          <span className="field-default"> Default: {fallback}.</span>
        ))}
    </p>
  );
  const label = (
    <>
      {setting.label}
      {setting.required && (
        <span className="required" aria-hidden="true">
          {' '}
          *
        </span>
      )}
      {setting.required && <span className="sr-only"> (required)</span>}
    </>
  );
  const errorLine = error && (
    <p className="field-error" id={errorId}>
      {error}
    </p>
  );

  if (setting.type === 'boolean') {
    return (
      <div className={`field field-boolean${error ? ' has-error' : ''}`}>
        <label className="switch" htmlFor={id}>
          <input
            {...common}
            type="checkbox"
            role="switch"
            checked={value === true}
            onChange={(e) => onChange(e.target.checked)}
          />
          <span className="switch-track" aria-hidden="true" />
          <span className="field-label">{label}</span>
        </label>
        {hint}
        {errorLine}
      </div>
    );
  }

  if (setting.type === 'multiselect') {
    const selected = Array.isArray(value) ? value : [];
    return (
      <fieldset
        className={`field${error ? ' has-error' : ''}`}
        aria-describedby={describedBy}
        id={id}
        disabled={disabled}
      >
        <legend className="field-label">{label}</legend>
        {hint}
        <div className="choices">
          {(setting.options ?? []).map((option) => (
            <label key={option.value} className="choice">
              <input
                type="checkbox"
                name={setting.key}
                value={option.value}
                checked={selected.includes(option.value)}
                onChange={(e) =>
                  onChange(e.target.checked ? [...selected, option.value] : selected.filter((v) => v !== option.value))
                }
              />
              {option.label}
            </label>
          ))}
        </div>
        {errorLine}
      </fieldset>
    );
  }

  let input;
  if (setting.type === 'text') {
    input = (
      <textarea
        {...common}
        rows={4}
        placeholder={placeholder}
        value={String(value)}
        onChange={(e) => onChange(e.target.value)}
      />
    );
  } else if (setting.type === 'select') {
    input = (
      <select {...common} value={String(value)} onChange={(e) => onChange(e.target.value)}>
        {!setting.required && <option value="">{placeholder ? `— Default (${placeholder}) —` : '— None —'}</option>}
        {(setting.options ?? []).map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    );
  } else if (setting.type === 'number') {
    input = (
      <input
        {...common}
        type="number"
        inputMode="decimal"
        min={setting.min}
        max={setting.max}
        placeholder={placeholder}
        value={String(value)}
        onChange={(e) => onChange(e.target.value)}
      />
    );
  } else {
    input = (
      <input
        {...common}
        type="text"
        placeholder={placeholder}
        value={String(value)}
        onChange={(e) => onChange(e.target.value)}
      />
    );
  }
  const range =
    setting.type === 'number' && (setting.min !== undefined || setting.max !== undefined)
      ? ` (${setting.min ?? '…'}–${setting.max ?? '…'})`
      : '';
  return (
    <div className={`field${error ? ' has-error' : ''}`}>
      <label className="field-label" htmlFor={id}>
        {label}
        {range && <span className="field-range">{range}</span>}
      </label>
      {hint}
      {input}
      {errorLine}
    </div>
  );
}
