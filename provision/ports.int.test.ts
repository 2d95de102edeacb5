// freePort: ports below the kernel's ephemeral range (where no outgoing connection can take one
// before its server binds it), never the same twice in a process, and free to listen on.
import fs from 'node:fs';
import net from 'node:net';
import { freePort } from './ports';

test('free ports lie below the ephemeral range, differ, and can be listened on', async () => {
  const ephemeralLow = Number(
    fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
  );
  const ports: number[] = [];
  for (let i = 0; i < 40; i++) ports.push(await freePort());
  expect(new Set(ports).size).toBe(ports.length);
  for (const port of ports) {
    expect(port).toBeGreaterThanOrEqual(20_000);
    expect(port).toBeLessThan(Math.min(ephemeralLow, 32_768));
  }
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(ports[0], '127.0.0.1', resolve);
  });
  await new Promise((resolve) => server.close(resolve));
});
