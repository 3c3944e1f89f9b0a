/**
 * The small campus of the overview, alert-detail and language-walk tests: one gateway on the east
 * site with one bus, building E-B1 and its rooms E-R1 and E-R2 (Hiking DDS238-2 meters) unless a
 * test gives its own meters. The bus points at port 1: nothing is polled, readings are written.
 */

/** A meter on the bus: an electricity meter of the Hiking profile unless `extra` says otherwise. */
export const smallMeter = (id: string, unitId: number, parent?: string, extra: object = {}) => ({
  id,
  kind: 'electricity',
  profile: 'hiking-dds238-2',
  unitId,
  ...(parent ? { parent } : {}),
  ...extra,
});

export const SMALL_METERS = [
  smallMeter('E-B1', 1),
  smallMeter('E-R1', 2, 'E-B1'),
  smallMeter('E-R2', 3, 'E-B1'),
];

/** The raw campus file (before validation) with its data in `dir`. */
export function smallCampus(dir: string, meters: object[] = SMALL_METERS) {
  return {
    campus: { name: 'Test campus (invented)', timezone: 'Asia/Shanghai' },
    dataDir: dir,
    sites: [
      {
        id: 'east',
        gateways: [
          {
            id: 'gw-e1',
            buses: [{ id: 'b1', type: 'rtu-over-tcp', host: '127.0.0.1', port: 1, meters }],
          },
        ],
      },
    ],
  };
}
