import { useState } from 'react';
import { keyProblem } from '@alga-psa/protocol';
import type { SecretChange } from './SecretRow.tsx';

interface Props {
  /** Custom config key → value (strings, as the reference host stores them). */
  config: Record<string, string>;
  /** Secret keys already stored (shown under Secrets with their own replace / clear). */
  secretKeys: string[];
  /** Secret changes staged on the form; new custom secrets appear here until saved. */
  staged: Record<string, SecretChange>;
  errors: Record<string, string>;
  disabled: boolean;
  onConfigChange: (next: Record<string, string>) => void;
  onAddSecret: (key: string, value: string) => void;
  onDropSecret: (key: string) => void;
}

/**
 * Custom keys for an extension whose manifest declares no settings (every
 * reference-host extension): an admin names a key, gives a value and
 * chooses "sensitive" to store it as an encrypted secret instead of config,
 * as the reference host's settings page does. Saved with the rest of the form.
 */
export function CustomKeys({
  config,
  secretKeys,
  staged,
  errors,
  disabled,
  onConfigChange,
  onAddSecret,
  onDropSecret,
}: Props) {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [sensitive, setSensitive] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const pendingSecrets = Object.entries(staged).filter(
    ([name, change]) => change.mode === 'replace' && !secretKeys.includes(name),
  );

  const add = () => {
    const name = key.trim();
    const invalid = keyProblem(name);
    if (invalid) return setProblem(invalid);
    if (name in config || secretKeys.includes(name) || name in staged) {
      return setProblem(`"${name}" is already set; edit or clear it instead.`);
    }
    if (sensitive && value === '') return setProblem('Enter a value for the secret.');
    if (sensitive) onAddSecret(name, value);
    else onConfigChange({ ...config, [name]: value });
    setKey('');
    setValue('');
    setSensitive(false);
    setProblem(null);
  };

  return (
    <section className="card" aria-labelledby="custom-title">
      <div className="card-head">
        <h2 id="custom-title">Custom settings</h2>
        <span className="muted small">
          This extension declares no settings: add the keys it reads. Sensitive values are stored as encrypted secrets.
        </span>
      </div>
      {Object.keys(config).length === 0 && pendingSecrets.length === 0 && (
        <p className="empty">No custom config keys yet.</p>
      )}
      <div className="fields">
        {Object.entries(config).map(([name, current]) => (
          <div key={name} className={`field${errors[name] ? ' has-error' : ''}`}>
            <label htmlFor={`setting-${name}`}>
              <code>{name}</code>
            </label>
            <div className="custom-row">
              <input
                id={`setting-${name}`}
                value={current}
                disabled={disabled}
                onChange={(event) => onConfigChange({ ...config, [name]: event.target.value })}
              />
              <button
                type="button"
                className="btn btn-ghost btn-sm danger-text"
                disabled={disabled}
                onClick={() => onConfigChange(Object.fromEntries(Object.entries(config).filter(([k]) => k !== name)))}
              >
                Remove<span className="sr-only"> {name}</span>
              </button>
            </div>
            {errors[name] && <p className="field-error">{errors[name]}</p>}
          </div>
        ))}
        {pendingSecrets.map(([name]) => (
          <div key={name} className={`field${errors[`secrets.${name}`] ? ' has-error' : ''}`}>
            <p>
              <code>{name}</code> <span className="muted small">secret, set when you save</span>{' '}
              <button type="button" className="btn btn-ghost btn-sm" onClick={() => onDropSecret(name)}>
                Undo
              </button>
            </p>
            {errors[`secrets.${name}`] && <p className="field-error">{errors[`secrets.${name}`]}</p>}
          </div>
        ))}
      </div>
      {!disabled && (
        <div className="custom-add" role="group" aria-label="Add a custom key">
          <input
            aria-label="Key"
            placeholder="Key, e.g. algaApiBase"
            value={key}
            onChange={(event) => setKey(event.target.value)}
          />
          <input
            aria-label="Value"
            placeholder="Value"
            type={sensitive ? 'password' : 'text'}
            autoComplete="off"
            value={value}
            onChange={(event) => setValue(event.target.value)}
          />
          <label className="custom-sensitive">
            <input type="checkbox" checked={sensitive} onChange={(event) => setSensitive(event.target.checked)} />{' '}
            Sensitive
          </label>
          <button type="button" className="btn btn-secondary btn-sm" onClick={add}>
            Add
          </button>
          {problem && (
            <p className="field-error" role="alert">
              {problem}
            </p>
          )}
        </div>
      )}
    </section>
  );
}
