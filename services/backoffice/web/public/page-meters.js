import { get, qs } from './api.js';
import { h } from './dom.js';
import { getLang } from './i18n.js';
import { pagedList } from './list.js';

/**
 * Every meter of the campus file, searched and paged on the server (GET /api/meters): by id,
 * room, account or building, a page of 100 at a time, each linking to its meter page. Its
 * strings live here, in both languages.
 */

const S = {
  zh: {
    nav: '表计清单',
    title: '表计清单',
    placeholder: '按表号、房间、账户或楼栋搜索',
    empty: '校园配置文件中没有表计：请在 campus.yaml 中添加网关和表计。',
    id: '表号',
    name: '名称',
    kind: '类别',
    account: '账户',
    above: '位于',
    electricity: '电',
    water: '水',
    heat: '热',
  },
  en: {
    nav: 'Meter list',
    title: 'Meter list',
    placeholder: 'Search by meter id, room, account or building',
    empty: 'The campus file has no meters: add gateways and meters to campus.yaml.',
    id: 'Meter',
    name: 'Name',
    kind: 'Utility',
    account: 'Account',
    above: 'Below',
    electricity: 'Electricity',
    water: 'Water',
    heat: 'Heat',
  },
};

const s = (key) => S[getLang()]?.[key] ?? S.en[key] ?? key;

export const metersPage = {
  id: 'meters',
  get nav() {
    return s('nav');
  },
  allowed: (can) => can('readings.view'),
  render(main, params, ctx, query) {
    const list = pagedList({
      name: 'meters',
      q: query?.get('q') ?? '',
      placeholder: s('placeholder'),
      empty: s('empty'),
      fetchPage: ({ q, offset, limit }) => get(`/api/meters${qs({ q, offset, limit })}`),
      columns: [
        [s('id'), (m) => h('a', { href: `#/meter/${encodeURIComponent(m.id)}` }, m.id)],
        [s('name'), (m) => m.name],
        [s('kind'), (m) => s(m.kind)],
        [s('account'), (m) => m.account ?? ''],
        [s('above'), (m) => m.above.slice(0, 2).join(' · ')],
      ],
      rowAttrs: (m) => ({ dataset: { meter: m.id } }),
    });
    main.append(
      h('h1', {}, s('title')),
      h('section', { class: 'card', dataset: { section: 'meters' } }, list.el),
    );
  },
};
