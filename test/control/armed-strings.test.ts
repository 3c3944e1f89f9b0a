import { afterEach, describe, expect, it, vi } from 'vitest';

/**
 * The relay page shows an armed request in the user's language (i18n.js, loaded as the browser
 * loads it: the language from navigator, nothing stored).
 */
describe('the relay page’s words for an armed restore', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it('says "closing allowed, awaiting the customer" in Chinese and English', async () => {
    vi.stubGlobal('navigator', { language: 'zh-CN' });
    vi.stubGlobal('localStorage', {
      getItem: () => null,
      setItem: () => undefined,
    });
    vi.stubGlobal('document', { documentElement: { lang: '' } });
    // @ts-expect-error -- the web app's browser JavaScript has no type declarations
    const { t, setLang } = (await import('../../services/backoffice/web/public/i18n.js')) as {
      t: (key: string) => string;
      setLang: (lang: string) => void;
    };
    expect(t('state.armed')).toBe('已允许合闸，待用户按键');
    setLang('en');
    expect(t('state.armed')).toBe('Armed: closing allowed, awaiting the customer');
    // Neither is the word for done or failed.
    expect([t('state.done'), t('state.failed')]).not.toContain(t('state.armed'));
  });
});
