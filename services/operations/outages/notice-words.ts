import { wallClock } from '../../metering/consumption/zone.ts';
import type { Utility } from './downstream.ts';

/** An outage notice's words in Chinese and English; times in the campus zone. */

export type OutageNoticeKind = 'outage-ahead' | 'outage-withdrawn';

export interface OutageNoticeFacts {
  outage: number;
  kind: OutageNoticeKind;
  utility: Utility;
  /** The building (or customer) the account stands in, by name. */
  place: string;
  startsAt: number;
  endsAt: number;
  reason: string;
}

const WHAT = {
  zh: { electricity: '停电', water: '停水', heat: '停暖' },
  en: { electricity: 'power outage', water: 'water outage', heat: 'heating outage' },
} as const;

function when(at: number, tz: string): string {
  const w = wallClock(at, tz);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${w.year}-${p(w.month)}-${p(w.day)} ${p(w.hour)}:${p(w.minute)}`;
}

export function outageWording(
  f: OutageNoticeFacts,
  language: 'zh' | 'en',
  tz: string,
): { subject: string; text: string } {
  const from = when(f.startsAt, tz);
  const to = when(f.endsAt, tz);
  if (language === 'zh') {
    const what = WHAT.zh[f.utility];
    return f.kind === 'outage-ahead'
      ? {
          subject: `${what}通知：${f.place} ${from} 至 ${to}`,
          text: `因${f.reason}，${f.place} 将于 ${from} 至 ${to}（${tz}）计划${what}。请提前做好准备。通知编号 ${f.outage}。`,
        }
      : {
          subject: `取消${what}：${f.place} ${from} 至 ${to}`,
          text: `原定 ${from} 至 ${to}（${tz}）${f.place} 的计划${what}已取消，供应照常。通知编号 ${f.outage}。`,
        };
  }
  const what = WHAT.en[f.utility];
  return f.kind === 'outage-ahead'
    ? {
        subject: `Planned ${what}: ${f.place}, ${from} to ${to}`,
        text: `${f.place} will have a planned ${what} from ${from} to ${to} (${tz}) for: ${f.reason}. Please prepare ahead. Notice no. ${f.outage}.`,
      }
    : {
        subject: `Cancelled: planned ${what} at ${f.place}, ${from} to ${to}`,
        text: `The planned ${what} at ${f.place} from ${from} to ${to} (${tz}) is cancelled; supply goes on as usual. Notice no. ${f.outage}.`,
      };
}
