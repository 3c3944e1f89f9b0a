/** The CRC-16/MODBUS table (polynomial 0xA001 reflected). */
const CRC_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/**
 * CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF) of `buf[start, end)`, sent low byte first:
 * the gateway's RTU-over-TCP transport checks answers with it, the simulated meters sign theirs.
 */
export function crc16Modbus(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ CRC_TABLE[(crc ^ buf[i]!) & 0xff]!;
  return crc;
}
