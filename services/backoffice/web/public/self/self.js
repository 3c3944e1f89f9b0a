/* global document, localStorage, navigator, fetch, FormData, setTimeout */
// The customer's self-service page: sign in, balance and remaining days, charts of what was
// charged per day and per month, the tariff, top-ups and debits, and top up through the payment
// provider. Phone first; Chinese or English. Talks only to /api/self (the customer cookie is
// scoped there); amounts are integer fen from the server, shown as yuan in the campus time zone.

const T = {
  zh: {
    title: '电费自助服务',
    signIn: '登录',
    signOut: '退出登录',
    username: '登录名',
    password: '密码',
    firstTime: '首次使用？用营业厅发放的一次性验证码设置密码',
    code: '一次性验证码',
    newPassword: '新密码（至少 8 位）',
    setPassword: '设置密码',
    passwordSet: '密码已设置，请登录。',
    topUp: '充值',
    amountYuan: '金额（元）',
    pay: '去支付',
    daily: '每日用电（近 31 天）',
    monthly: '每月用电',
    tariff: '电价',
    entries: '充值与扣费',
    balance: '余额',
    days: (n, r) => `按近期用量（每天 ¥${r}）约可用 ${n} 天`,
    noRate: '暂无近期用量',
    empty: '余额已用完，请尽快充值',
    orderOpen: (no, y) => `订单 ${no}：¥${y}，请在支付页完成付款。`,
    orderPaid: (y) => `已到账 ¥${y}。`,
    payLink: '打开支付页',
    topup: '充值',
    debit: '电费',
    'free-quota': '免费电量',
    refund: '退款',
    correction: '更正',
    kwh: '度',
    notices: '通知',
    'low-balance-1': '余额偏低提醒',
    'low-balance-2': '余额不足紧急提醒',
    'cutoff-ahead': '断电预告',
    restored: '已恢复供电',
    noNotices: '暂无通知',
    settings: '设置',
    noticeEmail: '接收通知的电子邮箱（可留空）',
    noticeLanguage: '通知语言',
    save: '保存',
    saved: '已保存。',
    changePassword: '修改密码',
    passwordChanged: '密码已修改，其他设备已退出登录。',
    badAmount: '请输入正确的金额',
    lang: 'English',
    upTo: (u) => `${u} 度以内`,
    above: '以上',
  },
  en: {
    title: 'Electricity self-service',
    signIn: 'Sign in',
    signOut: 'Sign out',
    username: 'Sign-in name',
    password: 'Password',
    firstTime: 'First time? Set your password with the one-time code from the business office',
    code: 'One-time code',
    newPassword: 'New password (8 characters or more)',
    setPassword: 'Set password',
    passwordSet: 'Password set: please sign in.',
    topUp: 'Top up',
    amountYuan: 'Amount (yuan)',
    pay: 'Pay',
    daily: 'Daily use (last 31 days)',
    monthly: 'Monthly use',
    tariff: 'Tariff',
    entries: 'Top-ups and charges',
    balance: 'Balance',
    days: (n, r) => `About ${n} days left at your recent use (¥${r} a day)`,
    noRate: 'No recent use yet',
    empty: 'No credit left: please top up',
    orderOpen: (no, y) => `Order ${no}: ¥${y}. Complete the payment on the provider's page.`,
    orderPaid: (y) => `¥${y} credited.`,
    payLink: 'Open the payment page',
    topup: 'Top-up',
    debit: 'Electricity',
    'free-quota': 'Free quota',
    refund: 'Refund',
    correction: 'Correction',
    kwh: 'kWh',
    notices: 'Notices',
    'low-balance-1': 'Low balance',
    'low-balance-2': 'Urgent: low balance',
    'cutoff-ahead': 'Supply cut ahead',
    restored: 'Supply restored',
    noNotices: 'No notices yet',
    settings: 'Settings',
    noticeEmail: 'E-mail for notices (may be empty)',
    noticeLanguage: 'Language of notices',
    save: 'Save',
    saved: 'Saved.',
    changePassword: 'Change password',
    passwordChanged: 'Password changed; other devices were signed out.',
    badAmount: 'Enter a valid amount',
    lang: '中文',
    upTo: (u) => `up to ${u} kWh`,
    above: 'above',
  },
};

/** Tariff components by their names in the tariff table; another name is shown as it is. */
const COMPONENTS = {
  zh: {
    energy: '电费',
    water: '水费',
    'water-resource-fee': '水资源费',
    'sewage-treatment-fee': '污水处理费',
  },
  en: {
    energy: 'Energy',
    water: 'Water',
    'water-resource-fee': 'Water-resource fee',
    'sewage-treatment-fee': 'Sewage-treatment fee',
  },
};

let lang = localStorage.getItem('self.lang') || (navigator.language.startsWith('zh') ? 'zh' : 'en');
let zone = 'Asia/Shanghai';
const $ = (id) => document.getElementById(id);
const t = (k, ...a) => (typeof T[lang][k] === 'function' ? T[lang][k](...a) : T[lang][k]);
const yuan = (fen) => (fen / 100).toFixed(2);

function translate() {
  document.documentElement.lang = lang;
  document.title = t('title');
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  $('lang').textContent = t('lang');
}

async function api(method, path, body) {
  const res = await fetch(`/api/self${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    credentials: 'same-origin',
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok)
    throw Object.assign(new Error(data.message || res.statusText), { status: res.status, code: data.code });
  return data;
}

function say(text) {
  $('message').textContent = text || '';
}

function bars(el, points) {
  if (points.length === 0) {
    el.textContent = t('noRate');
    return;
  }
  const w = 300;
  const h = 110;
  const max = Math.max(1, ...points.map((p) => p.kwh));
  const bw = w / Math.max(points.length, 1);
  const svg = points
    .map((p, i) => {
      const bh = (p.kwh / max) * (h - 20);
      const label =
        i % Math.ceil(points.length / 6) === 0
          ? `<text x="${i * bw}" y="${h + 8}">${p.period.slice(5) || p.period}</text>`
          : '';
      return `<rect x="${i * bw + 1}" y="${h - bh}" width="${Math.max(bw - 2, 1)}" height="${bh}"><title>${p.period}: ${p.kwh} ${t('kwh')}, ¥${yuan(p.fen)}</title></rect>${label}`;
    })
    .join('');
  el.innerHTML = `<svg viewBox="0 0 ${w} ${h + 10}" role="img" aria-label="${points.length}">${svg}</svg>`;
}

function time(ms) {
  return new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : 'en-GB', {
    timeZone: zone,
    dateStyle: 'short',
    timeStyle: 'short',
  }).format(ms);
}

async function showHome() {
  const [me, use, list, notices] = await Promise.all([
    api('GET', '/account'),
    api('GET', '/usage'),
    api('GET', '/entries'),
    api('GET', '/notices'),
  ]);
  zone = me.timezone;
  $('signin').hidden = true;
  $('home').hidden = false;
  $('who').textContent = `${me.holder} · ${me.account}`;
  $('contact-form').elements.email.value = me.email ?? '';
  $('contact-form').elements.language.value = me.language;
  $('balance').textContent = `¥${yuan(me.balanceFen)}`;
  $('balance').classList.toggle('low', me.balanceFen <= 0);
  $('days').textContent =
    me.balanceFen <= 0
      ? t('empty')
      : me.remainingDays === null
        ? t('noRate')
        : t('days', me.remainingDays, yuan(me.dailyRateFen));
  $('days').dataset.days = me.remainingDays ?? '';
  bars($('daily-chart'), use.daily);
  bars($('monthly-chart'), use.monthly);
  $('tariff').textContent = '';
  for (const c of me.tariff?.components ?? []) {
    const p = document.createElement('p');
    p.textContent = `${COMPONENTS[lang][c.name] ?? c.name}: ${c.tiers
      .map(
        (tier) =>
          `¥${tier.yuanPerUnit}/${me.tariff.unit}${c.tiers.length > 1 ? ` (${tier.upTo === null ? t('above') : t('upTo', tier.upTo)})` : ''}`,
      )
      .join('; ')}`;
    $('tariff').append(p);
  }
  $('notices').textContent = notices.length ? '' : t('noNotices');
  for (const n of notices) {
    const li = document.createElement('li');
    li.textContent = `${time(n.at)} ${t(n.kind === 'low-balance' ? `low-balance-${n.level}` : n.kind)}`;
    li.dataset.kind = n.kind;
    $('notices').append(li);
  }
  $('entries').textContent = '';
  for (const e of list) {
    const li = document.createElement('li');
    const what = document.createElement('span');
    what.textContent = `${time(e.at)} ${t(e.type)}${e.day ? ` ${e.day} · ${e.kwh} ${t('kwh')}` : ''}`;
    const amount = document.createElement('span');
    amount.textContent = `${e.amountFen > 0 ? '+' : ''}${yuan(e.amountFen)}`;
    amount.className = e.amountFen > 0 ? 'plus' : '';
    li.append(what, amount);
    $('entries').append(li);
  }
}

function showSignIn() {
  $('home').hidden = true;
  $('signin').hidden = false;
}

async function watchOrder(orderNo, amountFen) {
  for (let i = 0; i < 120; i++) {
    await new Promise((r) => setTimeout(r, 2000));
    const o = await api('GET', `/orders/${orderNo}`).catch(() => null);
    if (o?.status === 'paid') {
      $('order').textContent = t('orderPaid', yuan(amountFen));
      await showHome();
      return;
    }
    if (o?.status === 'closed') return;
  }
}

function wire() {
  $('lang').addEventListener('click', () => {
    lang = lang === 'zh' ? 'en' : 'zh';
    localStorage.setItem('self.lang', lang);
    translate();
    if (!$('home').hidden) showHome().catch((e) => say(e.message));
  });
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    try {
      await api('POST', '/login', { username: f.get('username'), password: f.get('password') });
      say('');
      await showHome();
    } catch (e) {
      say(e.message);
    }
  });
  $('redeem-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    try {
      await api('POST', '/redeem', {
        username: f.get('username'),
        code: f.get('code'),
        password: f.get('password'),
      });
      say(t('passwordSet'));
    } catch (e) {
      say(e.message);
    }
  });
  for (const b of document.querySelectorAll('[data-yuan]')) {
    b.addEventListener('click', () => {
      $('topup-form').elements.yuan.value = b.dataset.yuan;
    });
  }
  $('topup-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = String(new FormData(ev.target).get('yuan')).trim();
    if (!/^\d{1,6}(\.\d{1,2})?$/.test(v)) return say(t('badAmount'));
    const [whole, frac = ''] = v.split('.');
    const amountFen = Number(whole) * 100 + Number(frac.padEnd(2, '0'));
    try {
      const o = await api('POST', '/topups', { amountFen });
      say('');
      const p = $('order');
      p.hidden = false;
      p.textContent = `${t('orderOpen', o.orderNo, yuan(o.amountFen))} `;
      const a = document.createElement('a');
      a.href = o.payUrl;
      a.target = '_blank';
      a.rel = 'noopener';
      a.id = 'pay-link';
      a.textContent = t('payLink');
      p.append(a);
      watchOrder(o.orderNo, o.amountFen);
    } catch (e) {
      say(e.message);
    }
  });
  $('contact-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const email = String(f.get('email')).trim();
    try {
      await api('POST', '/contact', { email: email || null, language: f.get('language') });
      say(t('saved'));
    } catch (e) {
      say(e.message);
    }
  });
  $('password-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    try {
      await api('POST', '/password', { current: f.get('current'), password: f.get('password') });
      ev.target.reset();
      say(t('passwordChanged'));
    } catch (e) {
      say(e.message);
    }
  });
  $('logout').addEventListener('click', async () => {
    await api('POST', '/logout', {}).catch(() => {});
    showSignIn();
  });
}

translate();
wire();
showHome().catch((e) => (e.status === 401 ? showSignIn() : say(e.message)));
