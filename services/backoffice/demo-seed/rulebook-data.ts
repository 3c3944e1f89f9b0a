/**
 * The demo campus's rulebook as data: the post-paid accounts (staff households of the east
 * residential area and the east canteen), the utility supply point whose invoice is checked, the
 * collection rules shortened to fit a demo's half month, the tip mailbox, and the complaints and
 * tips the demo starts with. Invented names only.
 */

export const DEMO_POSTPAID = [
  // Staff with a payroll code: deducted from salary, no notice.
  { id: 'HH-E-H01', holder: '东区教工住宅 H01（陈老师）', payrollCode: 'P000101', household: 'E-H01' },
  { id: 'HH-E-H02', holder: '东区教工住宅 H02（林老师）', payrollCode: 'P000102', household: 'E-H02' },
  // Without a payroll code: a payment notice to the door.
  { id: 'HH-E-H04', holder: '东区教工住宅 H04（何家）', household: 'E-H04', pays: 'full' },
  { id: 'HH-E-H05', holder: '东区教工住宅 H05（郭家）', household: 'E-H05', pays: 'part' },
  { id: 'HH-E-H06', holder: '东区教工住宅 H06（罗家）', household: 'E-H06', pays: 'none' },
] as const;

export const DEMO_BUSINESS = {
  id: 'BIZ-E-CANTEEN',
  holder: '东区食堂（承包经营）',
  meter: 'E-E-CANTEEN',
  pays: 'full',
} as const;

/** The campus file's sections the rulebook needs, added to the demo campus. */
export function demoRulebookCampus(): Record<string, unknown> {
  return {
    billing: {
      supplyPoints: [
        {
          id: 'SP-EAST-POWER',
          utility: 'electricity',
          meter: 'E-E-SUB1-IN',
          billedMeters: [DEMO_BUSINESS.meter, ...DEMO_POSTPAID.map((a) => `E-${a.household}`)],
          lossPercent: 3,
          contract: [{ effectiveFrom: '2026-01-01', components: [{ name: 'energy', price: '0.6200' }] }],
        },
      ],
    },
    // A demo's half month holds what a term holds: one day to object, two days to pay.
    collection: { objectionDays: 1, dueDays: 2 },
    complaints: { mailDrop: 'tips', pollSeconds: 30 },
  };
}

/** The complaints and tips the demo starts with (recorded by demo.complaints). */
export const DEMO_CASES = [
  {
    channel: 'hotline',
    kind: 'tip',
    summary: '东区 E1 宿舍楼有房间夜里用电热毯和电炉',
    details: '来电同学称隔壁房间每晚十一点后使用大功率电器，灯光明显变暗。请勿透露来电人身份。',
    anonymous: true,
    tipster: { name: '匿名同学（自称住 E1 二楼）', phone: '13800000021' },
    links: [
      { kind: 'meter', ref: 'E-E1-101', note: '来电所指房间' },
      { kind: 'inspection', ref: 'demo.inspector', note: '夜间现场核查' },
    ],
  },
  {
    channel: 'box',
    kind: 'complaint',
    summary: '教工住宅 H06 对本期电费有疑问',
    details: '罗家投诉：本期电费比上期多，怀疑电表走快，请派人校表。',
    box: '东区教工住宅门卫室举报箱',
    anonymous: false,
    tipster: { name: '罗先生', phone: '13900000606' },
    links: [{ kind: 'account', ref: 'HH-E-H06', note: '' }],
  },
  {
    channel: 'hotline',
    kind: 'complaint',
    summary: '西区路灯白天常亮',
    details: '来电反映西区主干道路灯白天也亮着，浪费电。',
    anonymous: false,
    tipster: { name: '王师傅', phone: '13700000777' },
    links: [],
    close: { outcome: 'referred', note: '路灯归后勤照明班管理，已转后勤处。' },
  },
] as const;

/**
 * The email the demo's tip mailbox holds at the first start, as an older webmail sends it
 * (GB2312 encoded-word subject, GBK base64 body): "举报：西区食堂后面水表被人动过" /
 * "我看到有人晚上打开西区食堂后面的水表井，动了水表。" from 赵同学.
 */
export const DEMO_TIP_EMAIL = [
  'Return-Path: <zhao.tongxue@student.campus.example>',
  'Delivered-To: tips@energy.campus.example',
  'From: =?GBK?B?1dTNrNGn?= <zhao.tongxue@student.campus.example>',
  'To: tips@energy.campus.example',
  'Subject: =?GB2312?B?vtmxqKO6zvfH+MqzzMO688Pmy66x7bG7yMu2r7n9?=',
  'Date: Mon, 30 Nov 2026 22:10:00 +0800',
  'Message-ID: <demo-tip-1@student.campus.example>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset="GBK"',
  'Content-Transfer-Encoding: base64',
  '',
  'ztK/tLW909DIy83tyc+08r+qzvfH+MqzzMO688PmtcTLrrHtvq6jrLavwcvLrrHtoaM=',
  '',
].join('\r\n');
