import type { OutagePhase, PlannedOutage } from '../../operations/outages/outages.ts';

/**
 * What the public may read of a planned outage, and the printable notice posted per building.
 * Built field by field from an allow-list (never by copying the record and deleting): the
 * accounts, room meters, who planned and who approved stay inside. Buildings are public places;
 * a room or an account is not.
 */

export type Lang = 'zh' | 'en';

export interface PublicOutage {
  id: number;
  utility: PlannedOutage['utility'];
  startsAt: number;
  endsAt: number;
  reason: string;
  /** announced, in-progress, settling, ended or cancelled (approved notices only are public). */
  phase: OutagePhase;
  publishedAt: number;
  buildings: { id: string; name: string }[];
  /** After the outage: what the readings showed, in the notice's own terms. */
  outcome: { verdicts: string[]; startedLateMin: number; overranMin: number } | null;
}

/** Only approved notices are public; a cancelled one stays listed as cancelled once it was published. */
export function isPublic(o: PlannedOutage): boolean {
  return o.publishedAt !== null && (o.state === 'approved' || o.state === 'cancelled');
}

export function publicOutage(o: PlannedOutage, phase: OutagePhase): PublicOutage {
  const obs = o.observation;
  return {
    id: o.id,
    utility: o.utility,
    startsAt: o.startsAt,
    endsAt: o.endsAt,
    reason: o.reason,
    phase,
    publishedAt: o.publishedAt!,
    buildings: o.affected.buildings.map((b) => ({ id: b.id, name: b.name })),
    outcome: obs
      ? {
          verdicts: [...obs.verdicts],
          startedLateMin: Math.round(obs.startedLateMs / 60_000),
          overranMin: Math.round(obs.overranMs / 60_000),
        }
      : null,
  };
}

const UTILITY: Record<Lang, Record<PlannedOutage['utility'], string>> = {
  zh: { electricity: '停电', water: '停水', heat: '停暖' },
  en: { electricity: 'Power outage', water: 'Water outage', heat: 'Heating outage' },
};

const WORDS = {
  zh: {
    title: (u: string) => `${u}通知`,
    building: '楼宇',
    from: '开始',
    to: '结束',
    reason: '原因',
    notice: '编号',
    published: '发布',
    advice: '请提前做好准备。停电期间请关闭电器；恢复供应前请勿自行合闸或开阀。',
    issuer: '能源管理中心',
    cancelled: '本次计划已取消。',
  },
  en: {
    title: (u: string) => `${u} notice`,
    building: 'Building',
    from: 'From',
    to: 'Until',
    reason: 'Reason',
    notice: 'Notice no.',
    published: 'Published',
    advice:
      'Please prepare ahead. Switch appliances off during a power outage; do not close breakers or open valves yourself before supply returns.',
    issuer: 'Energy Management Center',
    cancelled: 'This outage has been cancelled.',
  },
} as const;

export function formatLocal(ms: number, timezone: string, lang: Lang): string {
  return new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : 'en-GB', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    weekday: 'short',
  }).format(ms);
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The A4 notice for one building, in one language, times in the campus zone. */
export function noticeHtml(o: PublicOutage, buildingId: string, lang: Lang, timezone: string): string | null {
  const b = o.buildings.find((x) => x.id === buildingId);
  if (!b) return null;
  const w = WORDS[lang];
  const title = w.title(UTILITY[lang][o.utility]);
  const row = (k: string, v: string) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`;
  return `<!doctype html>
<html lang="${lang === 'zh' ? 'zh-CN' : 'en'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} — ${esc(b.name)}</title>
<style>
@page { size: A4; margin: 20mm; }
body { font-family: system-ui, "Noto Sans CJK SC", sans-serif; max-width: 180mm; margin: 0 auto; padding: 1rem; }
h1 { text-align: center; font-size: 2rem; margin: 0 0 1rem; }
table { border-collapse: collapse; width: 100%; font-size: 1.2rem; }
th, td { border: 1px solid #000; padding: .5rem; text-align: left; vertical-align: top; }
th { width: 25%; }
.cancelled { color: #b00; font-weight: bold; font-size: 1.4rem; text-align: center; }
footer { margin-top: 2rem; text-align: right; }
</style></head><body>
<h1>${esc(title)}</h1>
${o.phase === 'cancelled' ? `<p class="cancelled">${esc(w.cancelled)}</p>` : ''}
<table>
${row(w.building, b.name)}
${row(w.from, formatLocal(o.startsAt, timezone, lang))}
${row(w.to, formatLocal(o.endsAt, timezone, lang))}
${row(w.reason, o.reason)}
${row(w.notice, String(o.id))}
${row(w.published, formatLocal(o.publishedAt, timezone, lang))}
</table>
<p>${esc(w.advice)}</p>
<footer>${esc(w.issuer)}</footer>
</body></html>
`;
}
