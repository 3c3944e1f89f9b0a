import { describe, expect, it } from 'vitest';

// i18n.js reads the browser's language when loaded: Node 20 has no navigator, so it gets one.
Object.assign(globalThis, { navigator: { language: 'zh-CN' } });
// A plain ES module of the browser's, without types: imported by a path TypeScript does not resolve.
const page = '../../services/backoffice/web/public/i18n.js';
const i18n = (await import(page)) as {
  WORDS_DEFINED_TWICE: string[];
  t: (key: string, vars?: Record<string, unknown>) => string;
};

describe('the web app’s words', () => {
  it('defines every word once: a page file never silently replaces a word of another file', () => {
    expect(i18n.WORDS_DEFINED_TWICE).toEqual([]);
  });

  it('still has the words that were defined twice, in Chinese, as the page files give them', () => {
    expect(i18n.t('entry.topup')).toBe('售电');
    expect(i18n.t('meter.vee')).toBe('数据校核标记');
    expect(i18n.t('health.title')).toBe('网关、总线与表计');
  });
});
