/**
 * The settings form's model and its checks. The form holds a draft (numbers
 * stay strings while typed, so "" and "1." are editable); the checks before
 * saving are the server's own (`validateConfig` from @alga-psa/protocol) on
 * the config the draft would send, so the page shows the same messages on
 * the same fields as a save would.
 */
import { validateConfig, type ConfigFieldError, type SettingValue, type UiSetting } from '@alga-psa/protocol';

/** What the form holds, per setting key. */
export type Draft = Record<string, string | boolean | string[]>;

export function toDraft(settings: UiSetting[], config: Record<string, unknown>): Draft {
  const draft: Draft = {};
  for (const setting of settings) {
    const value = config[setting.key];
    switch (setting.type) {
      case 'boolean':
        draft[setting.key] = value === true;
        break;
      case 'multiselect':
        draft[setting.key] = Array.isArray(value)
          ? value.filter((item): item is string => typeof item === 'string')
          : [];
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

/** Draft → config object; empty fields are left out rather than sent as "" (a required one then says so). */
export function fromDraft(settings: UiSetting[], draft: Draft): Record<string, SettingValue> {
  const config: Record<string, SettingValue> = {};
  for (const setting of settings) {
    const value = draft[setting.key];
    if (value === undefined || value === '') continue;
    config[setting.key] = setting.type === 'number' && typeof value === 'string' ? Number(value) : value;
  }
  return config;
}

/** The field errors a save of this draft would get, in the form's order. */
export function validateDraft(settings: UiSetting[], draft: Draft): ConfigFieldError[] {
  const position = new Map(settings.map((setting, index) => [setting.key, index]));
  return validateConfig({ settings }, fromDraft(settings, draft)).sort(
    (a, b) => (position.get(a.field) ?? -1) - (position.get(b.field) ?? -1),
  );
}
