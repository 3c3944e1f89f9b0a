import { wallClock } from '../../metering/consumption/zone.ts';
import type { NoticeKind } from './notifier.ts';

/** A notice's words, in Chinese and English; amounts in yuan from integer fen, times in the campus zone. */

export interface NoticeFacts {
  account: string;
  kind: NoticeKind;
  level: number | null;
  balanceFen: number | null;
  thresholdFen: number | null;
  /** For cut-off ahead: held until friendly hours end, or requested now. */
  held: string | null;
  at: number;
}

const yuan = (fen: number) =>
  `${fen < 0 ? '-' : ''}${Math.floor(Math.abs(fen) / 100)}.${String(Math.abs(fen) % 100).padStart(2, '0')}`;

function when(at: number, tz: string): string {
  const w = wallClock(at, tz);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${w.year}-${p(w.month)}-${p(w.day)} ${p(w.hour)}:${p(w.minute)}`;
}

export function wording(
  f: NoticeFacts,
  language: 'zh' | 'en',
  tz: string,
): { subject: string; text: string } {
  const bal = f.balanceFen === null ? '' : yuan(f.balanceFen);
  const t = when(f.at, tz);
  if (language === 'zh') {
    switch (f.kind) {
      case 'low-balance':
        return f.level === 2
          ? {
              subject: `【紧急】电费余额不足：${f.account}`,
              text: `${f.account} 电费余额 ¥${bal}（${t}），已低于紧急提醒线 ¥${yuan(f.thresholdFen ?? 0)}。余额用完将断电，请尽快充值。`,
            }
          : {
              subject: `电费余额偏低：${f.account}`,
              text: `${f.account} 电费余额 ¥${bal}（${t}），已低于提醒线 ¥${yuan(f.thresholdFen ?? 0)}，请及时充值。`,
            };
      case 'cutoff-ahead':
        return f.held
          ? {
              subject: `断电预告：${f.account}`,
              text: `${f.account} 余额 ¥${bal} 已用完。照顾时段（${f.held}）内暂不断电，结束后将断电，请尽快充值。`,
            }
          : {
              subject: `断电预告：${f.account}`,
              text: `${f.account} 余额 ¥${bal} 已用完，已申请断电（${t}），经审批后执行。充值后将自动取消。`,
            };
      case 'restored':
        return { subject: `已恢复供电：${f.account}`, text: `${f.account} 已于 ${t} 恢复供电。` };
    }
  }
  switch (f.kind) {
    case 'low-balance':
      return f.level === 2
        ? {
            subject: `Urgent: low electricity balance, ${f.account}`,
            text: `The electricity balance of ${f.account} is ¥${bal} (${t}), below the urgent level of ¥${yuan(f.thresholdFen ?? 0)}. Supply is cut when it runs out: please top up soon.`,
          }
        : {
            subject: `Low electricity balance, ${f.account}`,
            text: `The electricity balance of ${f.account} is ¥${bal} (${t}), below ¥${yuan(f.thresholdFen ?? 0)}. Please top up.`,
          };
    case 'cutoff-ahead':
      return f.held
        ? {
            subject: `Supply cut ahead, ${f.account}`,
            text: `The balance of ${f.account} (¥${bal}) has run out. Supply is not cut during friendly hours (${f.held}); it will be cut after them unless you top up.`,
          }
        : {
            subject: `Supply cut ahead, ${f.account}`,
            text: `The balance of ${f.account} (¥${bal}) has run out. A cut-off was requested at ${t} and is carried out once approved; topping up cancels it.`,
          };
    case 'restored':
      return {
        subject: `Supply restored, ${f.account}`,
        text: `Supply to ${f.account} was restored at ${t}.`,
      };
  }
}
