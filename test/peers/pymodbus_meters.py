#!/usr/bin/python3
"""Three meters served by pymodbus, a Modbus implementation this project did not write.

Written from the register maps in shared/REFERENCE.md (the manufacturers' tables), not from the
project's profiles, so that a test polling it with the gateway checks the profiles, the planner
and the decoding against an independent reading of the same manuals:

  unit 1  Eastron SDM630  FC04 float32 ABCD: V L1/L2/L3 0x0000/02/04, I L1/L2/L3 0x0006/08/0A,
                          total P 0x0034 (W), total PF 0x003E, import kWh 0x0048, export kWh 0x004A
  unit 2  Chint DTSU666   FC03 float32 ABCD, raw in scaled units: import kWh 0x101E,
                          Ua/Ub/Uc 0x2006/08/0A (x0.1 V), Ia/Ib/Ic 0x200C/0E/10 (x0.001 A),
                          Pt 0x2012 (x0.1 W), PFt 0x202A (x0.001)
  unit 3  Hiking DDS238-2 FC03 big-endian: import 0x000A u32 x0.01 kWh, V 0x000C u16 x0.1,
                          I 0x000D u16 x0.01, P 0x000E s16 W, PF 0x0010 u16 x0.001, relay 0x001A

Every second the values change (seeded); each state is printed on stdout as one JSON line,
{"state": n, "units": {"1": {name: value}, ...}}, the values in the manual's engineering units
(float32 values as the float32 the registers hold).

  pymodbus_meters.py --tcp PORT
  pymodbus_meters.py --rtu PATH --baud 9600
"""
import argparse
import asyncio
import json
import random
import struct
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer
from pymodbus.transaction import ModbusRtuFramer


def f32_words(x):
    """float32, most significant word first (ABCD); the value the registers hold."""
    b = struct.pack('>f', x)
    return [int.from_bytes(b[0:2], 'big'), int.from_bytes(b[2:4], 'big')], struct.unpack('>f', b)[0]


def block(size):
    return ModbusSequentialDataBlock(0, [0] * size)


class Meters:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.state = 0
        self.sdm_import = 1234.5
        self.dtsu_import = 56789.25
        self.dds_import = 1_234_567  # counts of 0.01 kWh
        # zero_mode: wire address n is the block's index n, as the manuals' hex addresses are.
        self.sdm = ModbusSlaveContext(ir=block(0x0050), hr=block(1), di=block(1), co=block(1), zero_mode=True)
        self.dtsu = ModbusSlaveContext(hr=block(0x2030), ir=block(1), di=block(1), co=block(1), zero_mode=True)
        self.dds = ModbusSlaveContext(hr=block(0x0020), ir=block(1), di=block(1), co=block(1), zero_mode=True)
        self.context = ModbusServerContext(slaves={1: self.sdm, 2: self.dtsu, 3: self.dds}, single=False)

    def step(self):
        r = self.rng
        self.state += 1
        units = {}

        # SDM630: one contiguous image 0x0000..0x004B, set in one call so a read sees one state.
        regs = [0] * 0x004C
        vals = {}

        def put(addr, name, x):
            words, held = f32_words(x)
            regs[addr:addr + 2] = words
            vals[name] = held

        for i, name in enumerate(['V1', 'V2', 'V3']):
            put(0x0000 + 2 * i, name, r.uniform(215, 245))
        for i, name in enumerate(['I1', 'I2', 'I3']):
            put(0x0006 + 2 * i, name, r.uniform(0, 80))
        put(0x0034, 'P_W', r.uniform(0, 50_000))
        put(0x003E, 'PF', r.uniform(0.5, 1))
        self.sdm_import += r.uniform(0, 0.01)
        put(0x0048, 'import_kWh', self.sdm_import)
        put(0x004A, 'export_kWh', 0.0)
        self.sdm.setValues(4, 0x0000, regs)
        units['1'] = vals

        # DTSU666: raw floats in scaled units (x0.1 V, x0.001 A, x0.1 W, x0.001).
        vals = {}
        self.dtsu_import += r.uniform(0, 0.01)
        words, held = f32_words(self.dtsu_import)
        self.dtsu.setValues(3, 0x101E, words)
        vals['import_kWh'] = held
        regs = [0] * (0x202C - 0x2006)

        def put_scaled(addr, name, raw, scale):
            words, held = f32_words(raw)
            regs[addr - 0x2006:addr - 0x2006 + 2] = words
            vals[name] = {'raw': held, 'scale': scale}

        for i, name in enumerate(['Ua', 'Ub', 'Uc']):
            put_scaled(0x2006 + 2 * i, name, round(r.uniform(2150, 2450)), 0.1)
        for i, name in enumerate(['Ia', 'Ib', 'Ic']):
            put_scaled(0x200C + 2 * i, name, round(r.uniform(0, 60000)), 0.001)
        put_scaled(0x2012, 'Pt_W', round(r.uniform(0, 300000)), 0.1)
        put_scaled(0x202A, 'PFt', round(r.uniform(500, 1000)), 0.001)
        self.dtsu.setValues(3, 0x2006, regs)
        units['2'] = vals

        # DDS238-2: 0x0000..0x001A in one image; import u32 (high word first) x0.01 kWh.
        regs = [0] * 0x001B
        self.dds_import += r.randint(0, 3)
        regs[0x000A] = self.dds_import >> 16
        regs[0x000B] = self.dds_import & 0xFFFF
        v = r.randint(2150, 2450)
        i = r.randint(0, 4000)
        p = r.randint(-500, 5000)
        pf = r.randint(500, 1000)
        regs[0x000C] = v
        regs[0x000D] = i
        regs[0x000E] = p & 0xFFFF
        regs[0x0010] = pf
        regs[0x001A] = 1
        self.dds.setValues(3, 0x0000, regs)
        units['3'] = {
            'import_kWh': {'raw': self.dds_import, 'scale': 0.01},
            'V': {'raw': v, 'scale': 0.1},
            'I': {'raw': i, 'scale': 0.01},
            'P_W': p,
            'PF': {'raw': pf, 'scale': 0.001},
            'relay': 1,
        }
        print(json.dumps({'state': self.state, 'units': units}), flush=True)


async def tick(meters, period):
    while True:
        await asyncio.sleep(period)
        meters.step()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tcp', type=int)
    ap.add_argument('--rtu')
    ap.add_argument('--baud', type=int, default=9600)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--period', type=float, default=1.0)
    a = ap.parse_args()
    meters = Meters(a.seed)
    meters.step()
    asyncio.get_running_loop().create_task(tick(meters, a.period))
    if a.tcp:
        print(json.dumps({'listening': a.tcp}), flush=True)
        await StartAsyncTcpServer(context=meters.context, address=('127.0.0.1', a.tcp))
    else:
        print(json.dumps({'listening': a.rtu}), flush=True)
        await StartAsyncSerialServer(
            context=meters.context, framer=ModbusRtuFramer, port=a.rtu, baudrate=a.baud,
            bytesize=8, parity='N', stopbits=1, timeout=0.005,
        )


if __name__ == '__main__':
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
