import type { BindingInterface, BindingPortInterface, OpenOptions } from '@serialport/bindings-cpp';
import { SerialPortMock } from 'serialport';
import { describe, expect, it } from 'vitest';
import { Gm65, Gm65Zone } from '../../drivers/scanner/gm65.ts';
import { Gm65Simulator } from '../../drivers/scanner/gm65-sim.ts';
import { openSerialByteTransport } from '../../drivers/scanner/serial-bytes.ts';

/** A binding-mock port whose far end is a simulated GM65 (bytes written go to the simulator). */
function simulatedModuleBinding(sim: Gm65Simulator): BindingInterface {
  const MockBinding = SerialPortMock.binding;
  return {
    list: () => MockBinding.list(),
    async open(options: OpenOptions): Promise<BindingPortInterface> {
      const port = await MockBinding.open(options);
      const moduleSide = sim.transport();
      await moduleSide.setBaudRate(options.baudRate);
      moduleSide.onData((reply) => port.emitData(Buffer.from(reply)));
      const write = port.write.bind(port);
      port.write = async (buf: Buffer) => {
        await write(buf);
        await moduleSide.write(buf);
      };
      const update = port.update.bind(port);
      port.update = async (o) => {
        await update(o);
        await moduleSide.setBaudRate(o.baudRate);
      };
      return port;
    },
  };
}

describe('GM65 over a serialport stream (binding-mock + simulator)', () => {
  it('probes, configures and reads the firmware through a real SerialPort stream', async () => {
    const path = '/dev/mock-gm65-1';
    SerialPortMock.binding.createPort(path);
    const sim = new Gm65Simulator({ baudRate: 9600, firmware: 0x42 });
    const transport = await openSerialByteTransport({ path, baudRate: 115200, binding: simulatedModuleBinding(sim) });
    try {
      const gm = new Gm65(transport, { timeoutMs: 100 });
      expect(await gm.probeBaud()).toBe(9600);
      const result = await gm.configure({ terminator: 'CRLF' });
      expect(result.saved).toBe(true);
      expect(result.firmware).toBe(0x42);
      expect((sim.zones.get(Gm65Zone.output)! >> 5) & 0b11).toBe(0b01);
      expect(sim.baudRate).toBe(115200);
      expect((await gm.configure({ terminator: 'CRLF' })).written).toEqual([]);
      expect(sim.eepromSaves).toBe(1);
    } finally {
      await transport.close();
    }
  });
});
