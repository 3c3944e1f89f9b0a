/* global document, window, URLSearchParams */
import { api, get, setUnauthenticatedHandler } from './api.js';
import { clear, field, h, note, setTimeZone, timeZone, watchTableLabels } from './dom.js';
import { getLang, LANGUAGES, setLang, t } from './i18n.js';
import { alertsPage } from './page-alerts.js';
import { approvalsPage } from './page-approvals.js';
import { auditPage } from './page-audit.js';
import { balancePage } from './page-balance.js';
import { billingPage } from './page-billing.js';
import { collectionPage } from './page-collection.js';
import { reconciliationPage } from './page-reconciliation.js';
import { handoverPage } from './page-handover.js';
import { customersPage } from './page-customers.js';
import { healthPage } from './page-health.js';
import { livePage } from './page-live.js';
import { meterPage } from './page-meter.js';
import { metersPage } from './page-meters.js';
import { overviewPage } from './page-overview.js';
import { outagesPage } from './page-outages.js';
import { plansPage } from './page-plans.js';
import { capacityPage } from './page-capacity.js';
import { heatingDeskPage, heatingOrdersPage, heatingSpotPage, heatPurchasePage } from './page-heating.js';
import { complaintsPage } from './page-complaints.js';
import { policyPage } from './page-policy.js';
import { prepaidPage } from './page-prepaid.js';
import { readingsPage } from './page-readings.js';
import { reportsPage } from './page-reports.js';
import { relayPage } from './page-relay.js';
import { schedulesPage } from './page-schedules.js';
import { usersPage } from './page-users.js';
import { passwordPage } from './page-password.js';
import { pw } from './words-password.js';
import { personName } from './words-render.js';

/**
 * The app shell: who is logged in, what their roles may do, the navigation, the language, and a
 * hash router (`#/<page>/<param>…`). Each page is `{ id, nav, allowed(can), render(main, params,
 * ctx) }`; what a role may not do is not shown, and the server refuses it anyway.
 */

const PAGES = [
  // First: the landing page of those who may see it (the first allowed page is where one lands).
  overviewPage,
  livePage,
  meterPage,
  metersPage,
  balancePage,
  alertsPage,
  readingsPage,
  prepaidPage,
  handoverPage,
  customersPage,
  relayPage,
  approvalsPage,
  policyPage,
  schedulesPage,
  outagesPage,
  plansPage,
  capacityPage,
  heatingDeskPage,
  heatingOrdersPage,
  heatingSpotPage,
  heatPurchasePage,
  complaintsPage,
  reportsPage,
  billingPage,
  collectionPage,
  reconciliationPage,
  usersPage,
  auditPage,
  healthPage,
  passwordPage,
];

const state = {
  /** { roles, permissions, timezone } from /app/permissions.json (generated from roles.ts). */
  perms: null,
  /** { actor, displayName } from /api/me, or null when logged out. */
  me: null,
  cleanups: [],
  /** Shared between pages: the campus tree, fetched once per login. */
  cache: {},
};

function can(permission) {
  const allowed = state.perms?.permissions[permission] ?? [];
  const actor = state.me?.actor;
  if (!actor) return false;
  if (actor.scopes && !actor.scopes.includes(permission)) return false;
  return actor.roles.some((r) => allowed.includes(r));
}

function allowedPages() {
  return PAGES.filter((p) => p.allowed(can));
}

function navigate(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

function runCleanups() {
  for (const fn of state.cleanups.splice(0)) {
    try {
      fn();
    } catch {
      // A page's cleanup failing must not keep the next page from showing.
    }
  }
}

function parseHash() {
  const [path, query] = window.location.hash.replace(/^#\/?/, '').split('?');
  const parts = (path ?? '').split('/').filter(Boolean).map(decodeURIComponent);
  return { id: parts[0] ?? '', params: parts.slice(1), query: new URLSearchParams(query ?? '') };
}

function header() {
  const pages = state.me ? allowedPages().filter((p) => p.nav) : [];
  const current = parseHash().id;
  const roles = state.me?.actor.roles ?? [];
  return h(
    'header',
    { class: 'app-header' },
    h('div', { class: 'brand' }, h('a', { href: '#/' }, t('app.title'))),
    pages.length ? menuButton() : null,
    pages.length
      ? h(
          'nav',
          {
            id: 'app-nav',
            class: 'app-nav',
            'aria-label': t('app.title'),
            // The page already open redraws nothing when chosen again, so the menu folds here.
            onclick: (e) => {
              if (e.target.closest('a')) e.currentTarget.closest('.app-header').classList.remove('nav-open');
            },
          },
          pages.map((p) =>
            h(
              'a',
              {
                href: `#/${p.id}`,
                dataset: { nav: p.id },
                class: p.id === current ? 'active' : undefined,
                'aria-current': p.id === current ? 'page' : undefined,
              },
              t(p.nav),
            ),
          ),
        )
      : null,
    h(
      'div',
      { class: 'session' },
      h(
        'span',
        { class: 'langs', role: 'group' },
        LANGUAGES.map((l) =>
          h(
            'button',
            {
              type: 'button',
              class: l === getLang() ? 'lang active' : 'lang',
              dataset: { lang: l },
              'aria-pressed': l === getLang() ? 'true' : 'false',
              onclick: () => {
                setLang(l);
                render();
              },
            },
            t(`lang.${l}`),
          ),
        ),
      ),
      state.me
        ? [
            h(
              'span',
              { class: 'who', dataset: { user: state.me.actor.id } },
              personName(state.me.displayName ?? state.me.actor.id),
              ' · ',
              roles.map((r) => t(`role.${r}`)).join(', '),
            ),
            h(
              'a',
              { href: '#/password', class: 'password-link', dataset: { action: 'password' } },
              pw('link'),
            ),
            h(
              'button',
              { type: 'button', class: 'logout', dataset: { action: 'logout' }, onclick: logout },
              t('logout'),
            ),
          ]
        : null,
    ),
  );
}

/**
 * On a phone the navigation folds behind this button (styles.css hides it on wider screens): a
 * sideways strip would hide every page after the fifth. Choosing a page redraws the header, so
 * the menu closes by itself.
 */
function menuButton() {
  return h(
    'button',
    {
      type: 'button',
      class: 'menu-button',
      dataset: { action: 'menu' },
      'aria-controls': 'app-nav',
      'aria-expanded': 'false',
      onclick: (e) => {
        const header = e.currentTarget.closest('.app-header');
        const open = header.classList.toggle('nav-open');
        e.currentTarget.setAttribute('aria-expanded', String(open));
      },
    },
    t('menu'),
  );
}

function loginView(main) {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true });
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const message = h('div', {});
  const form = h(
    'form',
    {
      class: 'card login',
      dataset: { form: 'login' },
      onsubmit: async (e) => {
        e.preventDefault();
        clear(message);
        try {
          const session = await api('POST', '/api/session', {
            username: username.value,
            password: password.value,
          });
          await loadMe(session.actor);
          navigate('#/');
        } catch (err) {
          message.append(note(t('login.failed', { message: err.message }), 'error'));
        }
      },
    },
    h('h1', {}, t('login.title')),
    field('login.username', username),
    field('login.password', password),
    h('button', { type: 'submit', class: 'primary' }, t('login.submit')),
    message,
  );
  main.append(form, redeemForm());
  username.focus();
}

/** A new or reset user sets their own password with the one-time code an administrator handed them. */
function redeemForm() {
  const username = h('input', { name: 'redeem-username', autocomplete: 'username', required: true });
  const code = h('input', { name: 'code', autocomplete: 'one-time-code', required: true });
  const password = h('input', {
    name: 'new-password',
    type: 'password',
    autocomplete: 'new-password',
    required: true,
    minlength: 12,
  });
  const message = h('div', { 'aria-live': 'polite' });
  return h(
    'form',
    {
      class: 'card login',
      dataset: { form: 'redeem' },
      onsubmit: async (e) => {
        e.preventDefault();
        clear(message);
        try {
          await api('POST', '/api/password/redeem', {
            username: username.value.trim(),
            code: code.value.trim(),
            password: password.value,
          });
          code.value = '';
          password.value = '';
          message.append(note(t('login.redeemed'), 'ok'));
        } catch (err) {
          message.append(note(t('error', { message: err.message }), 'error'));
        }
      },
    },
    h('h2', {}, t('login.redeem')),
    field('login.username', username),
    field('login.code', code),
    field('login.new.password', password),
    h('button', { type: 'submit' }, t('login.redeem.submit')),
    message,
  );
}

async function loadMe(actor) {
  try {
    state.me = await get('/api/me');
  } catch (err) {
    if (!actor) throw err;
    state.me = { actor, displayName: null };
  }
  state.cache = {};
  if (!state.perms.timezone && can('readings.view')) {
    try {
      state.cache.tree = await get('/api/campus/tree');
      setTimeZone(state.cache.tree.timezone);
    } catch {
      // The browser's zone is shown until the tree can be read; each time says which zone.
    }
  }
}

async function logout() {
  try {
    await api('DELETE', '/api/session');
  } finally {
    state.me = null;
    state.cache = {};
    navigate('#/login');
  }
}

function render() {
  runCleanups();
  document.documentElement.lang = getLang() === 'zh' ? 'zh-CN' : 'en';
  document.title = t('app.title');
  const root = document.getElementById('app');
  clear(root);
  const main = h('main', { id: 'main', class: 'app-main' });
  root.append(header(), main);
  if (!state.me) {
    loginView(main);
    return;
  }
  const { id, params, query } = parseHash();
  const pages = allowedPages();
  const page = pages.find((p) => p.id === id);
  if (!page) {
    // A page may claim the landing of those whose work it is (the clerk's prepaid counter).
    const first = pages.find((p) => p.landing?.(can)) ?? pages.find((p) => p.nav);
    if (first) {
      window.location.replace(`#/${first.id}`);
      return;
    }
    main.append(note(t('nothing.for.role')));
    return;
  }
  const ctx = {
    can,
    actor: state.me.actor,
    /** Every role and what each may do (permissions.json), for pages that assign roles. */
    perms: state.perms,
    cache: state.cache,
    navigate,
    onCleanup: (fn) => state.cleanups.push(fn),
    rerender: render,
  };
  main.append(h('p', { class: 'zone' }, t('times.in', { zone: timeZone() })));
  Promise.resolve(page.render(main, params, ctx, query)).catch((err) => {
    main.append(note(t('error', { message: err.message }), 'error'));
  });
}

function route() {
  render();
}

async function boot() {
  setLang(getLang());
  state.perms = await get('/app/permissions.json');
  setTimeZone(state.perms.timezone);
  setUnauthenticatedHandler(() => {
    if (!state.me) return;
    state.me = null;
    render();
  });
  try {
    await loadMe();
  } catch {
    state.me = null;
  }
  watchTableLabels(document.getElementById('app'));
  window.addEventListener('hashchange', route);
  route();
}

boot().catch((err) => {
  const root = document.getElementById('app');
  clear(root).append(note(t('error', { message: err.message }), 'error'));
});
