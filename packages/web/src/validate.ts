/**
 * Client-side checks for what the inputs themselves express (required,
 * number and range). The server's validateConfig stays the authority: it
 * also checks lengths, choice counts and unknown keys, and its field errors
 * are shown on the same fields. Not imported from @alga-psa/protocol because
 * that module compiles the manifest JSON Schema with Ajv at load time, which
 * the browser does not need.
 */
import type { FieldError, Setting, SettingValue } from './types.ts';

/** What the form holds: numbers stay strings while typed so "" and "1." are editable. */
export type Draft = Record<string, string | boolean | string[]>;

export function toDraft(settings: Setting[], config: Record<string, SettingValue>): Draft {
  const draft: Draft = {};
  for (const setting of settings) {
    const value = config[setting.key];
    switch (setting.type) {
      case 'boolean':
        draft[setting.key] = value === true;
        break;
      case 'multiselect':
        draft[setting.key] = Array.isArray(value) ? [...value] : [];
        break;
      case 'number':
        draft[setting.key] = typeof value === 'number' ? String(value) : '';
        break;
      default:
        draft[setting.key] = typeof value === 'string' ? value : '';
    }
  }
  return draft;
}

/** Draft → config object; empty optional fields are left out rather than sent as "". */
export function fromDraft(settings: Setting[], draft: Draft): Record<string, SettingValue> {
  const config: Record<string, SettingValue> = {};
  for (const setting of settings) {
    const value = draft[setting.key];
    if (value === undefined) continue;
    if (setting.type === 'number') {
      if (value !== '') config[setting.key] = Number(value);
    } else if (setting.type === 'boolean' || setting.type === 'multiselect') {
      config[setting.key] = value;
    } else if (value !== '' || setting.required) {
      config[setting.key] = value;
    }
  }
  return config;
}

export function validateDraft(settings: Setting[], draft: Draft): FieldError[] {
  const errors: FieldError[] = [];
  for (const setting of settings) {
    const value = draft[setting.key];
    const empty = value === undefined || value === '' || (Array.isArray(value) && value.length === 0);
    if (empty) {
      if (setting.required) errors.push({ field: setting.key, message: `${setting.label} is required.` });
      continue;
    }
    if (setting.type === 'number' && typeof value === 'string') {
      const number = Number(value);
      if (!Number.isFinite(number)) errors.push({ field: setting.key, message: 'Enter a number.' });
      else if (setting.min !== undefined && number < setting.min)
        errors.push({ field: setting.key, message: `Must be at least ${setting.min}.` });
      else if (setting.max !== undefined && number > setting.max)
        errors.push({ field: setting.key, message: `Must be at most ${setting.max}.` });
    }
    if (setting.type === 'select' && typeof value === 'string' && !setting.options?.some((o) => o.value === value)) {
      errors.push({ field: setting.key, message: 'Choose one of the options.' });
    }
  }
  return errors;
}
