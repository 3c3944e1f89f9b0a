/**
 * Money words by code (zh/en): customer types, utilities, tariff components, prepaid ledger entry
 * types, units, and who acted when it was the system or an API token. The server keeps sending its
 * codes (`staff-household`, `water-resource-fee`, `topup`, `system:tariffs`); the pages show these
 * words instead. A code without words here (a component a billing clerk named freely) is shown as
 * typed: it is the clerk's own text, not the system's.
 */

export const en = {
  'ctype.student-room': 'Student room',
  'ctype.staff-household': 'Staff household',
  'ctype.business': 'Business',
  'ctype.external': 'External user',
  'ctype.fully-recovered-unit': 'Fully-recovered unit',
  'ctype.vendor': 'Service vendor',
  'ctype.public': 'Public building',
  'utility.electricity': 'Electricity',
  'utility.water': 'Water',
  'utility.heat': 'Heating',
  'component.energy': 'Energy',
  'component.water': 'Water',
  'component.heat': 'Heat',
  'component.water-resource-fee': 'Water-resource fee',
  'component.sewage-treatment-fee': 'Sewage-treatment fee',
  'component.campus-network-fee': 'Campus network fee',
  'entry.topup': 'Sale (top-up)',
  'entry.free-quota': 'Free quota',
  'entry.debit': 'Consumption',
  'entry.refund': 'Refund',
  'entry.meter-reset': 'Meter reset',
  'entry.correction': 'Correction',
  'actor.system': 'System',
  'actor.token': 'API token {name}',
  'billing.invoice.import': 'Import the utility’s JSON file',
};

export const zh = {
  'ctype.student-room': '学生宿舍',
  'ctype.staff-household': '教职工住户',
  'ctype.business': '校内经营户',
  'ctype.external': '校外用户',
  'ctype.fully-recovered-unit': '全成本核算单位',
  'ctype.vendor': '外包服务商',
  'ctype.public': '公共建筑',
  'utility.electricity': '电',
  'utility.water': '水',
  'utility.heat': '供暖',
  'component.energy': '电度电费',
  'component.water': '水费',
  'component.heat': '热费',
  'component.water-resource-fee': '水资源费',
  'component.sewage-treatment-fee': '污水处理费',
  'component.campus-network-fee': '校园管网费',
  'entry.topup': '售电',
  'entry.free-quota': '免费电量',
  'entry.debit': '用电扣费',
  'entry.refund': '退费',
  'entry.meter-reset': '表计清零',
  'entry.correction': '冲正',
  'actor.system': '系统',
  'actor.token': '接口令牌 {name}',
  'billing.invoice.import': '导入供电 / 供水公司的 JSON 文件',
};
