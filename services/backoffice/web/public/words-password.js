import { getLang } from './i18n.js';

/** The change-password page's words in both languages. */

const W = {
  zh: {
    link: '修改密码',
    title: '修改我的密码',
    why: '用一次性码设置密码后，请在这里再改一次：一次性码经过管理员之手，改过之前，建立或重置您账号的管理员与您在两人审批中算作同一人，您不能与他们或他们建立的账号共同完成两人审批。',
    current: '当前密码',
    next: '新密码',
    repeat: '再输一遍新密码',
    submit: '修改密码',
    mismatch: '两次输入的新密码不一致。',
    done: '密码已修改，所有会话已结束：请用新密码重新登录。',
    login: '重新登录',
  },
  en: {
    link: 'Change password',
    title: 'Change my password',
    why: "After setting your password with a one-time code, change it once more here: the code passed through an administrator's hands, and until you change it the administrators who created or reset your account count as you in two-person approvals, so you cannot complete one with them or with accounts they made.",
    current: 'Current password',
    next: 'New password',
    repeat: 'New password again',
    submit: 'Change password',
    mismatch: 'The two new passwords differ.',
    done: 'Password changed and every session ended: log in again with the new one.',
    login: 'Log in again',
  },
};

export const pw = (key) => W[getLang()]?.[key] ?? W.en[key] ?? key;

/** Refusals of POST /api/me/password in Chinese by code; in English the server's own words. */
const ERRORS_ZH = {
  INVALID_CREDENTIALS: '当前密码不对。',
  WEAK_PASSWORD: '新密码不符合要求（长度不够，或与用户名相同）。',
  LOGIN_RATE_LIMITED: '输错次数太多，请稍后再试。',
};

export const passwordError = (e) => (getLang() === 'zh' && ERRORS_ZH[e.code]) || e.message;
