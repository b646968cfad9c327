import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLog } from '../../drivers/common/log.ts';
import { ACR122U_LIMITS, FakeNfcReader } from '../../drivers/nfc/fake.ts';
import { PcscNfcReader } from '../../drivers/nfc/pcsc-reader.ts';
import { nfcReaderContract } from './nfc-reader.contract.ts';

nfcReaderContract('FakeNfcReader (ACR122U limits)', () => {
  const reader = new FakeNfcReader(ACR122U_LIMITS);
  return { reader, tapPhone: (phone) => reader.tap(phone) };
});

nfcReaderContract('FakeNfcReader (no reader attached)', () => {
  const reader = new FakeNfcReader({ initialStatus: { state: 'no-reader', readers: [] } });
  return { reader, tapPhone: (phone) => reader.tap(phone) };
});

// The real driver without pcscd: a socket path that does not exist. It must not construct nfc-pcsc.
nfcReaderContract('PcscNfcReader (pcscd absent)', () => {
  const socketPath = join(mkdtempSync(join(tmpdir(), 'nfc-contract-')), 'pcscd.comm');
  return { reader: new PcscNfcReader({ log: silentLog, socketPath, probeTimeoutMs: 200 }) };
});

// With pcscd running (CI starts it and sets NFC_PCSCD=1); tapping needs a reader and a phone.
if (process.env['NFC_PCSCD'] === '1') {
  nfcReaderContract(
    'PcscNfcReader (pcscd running)',
    () => ({ reader: new PcscNfcReader({ log: silentLog, probeTimeoutMs: 500 }) }),
    'a PC/SC reader and an Android phone running the QRPAY HCE service',
  );
}
