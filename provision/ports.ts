// Free TCP ports for the servers we start (test and bench servers, the drills' Temporal
// cluster, npm start's embedded pieces), so they never meet a running `npm start`.
//
// Each is probed free, drawn below the kernel's ephemeral range (no outgoing connection is ever
// given one, whatever the load: Linux keeps connect() and listen(0) apart only by port parity
// while both halves have room) and within a smallint (a Temporal cluster stores its membership
// ports in one), and never handed out twice by one process: a server started with two equal
// ports, or two servers given the same one before either binds, would fail to start.
import fs from 'node:fs';
import net from 'node:net';

const LOWEST = 20_000;
/** Also within a smallint, where a Temporal cluster stores its membership ports. */
const HIGHEST = 32_767;

/** Ports this process handed out: two servers started together never get the same one. */
const handedOut = new Set<number>();

/** The highest port below the kernel's ephemeral range (32768-60999 unless configured). */
function highestBelowEphemeral(): number {
  try {
    const [low] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/);
    return Math.min(HIGHEST, Number(low) - 1);
  } catch {
    return HIGHEST;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  const highest = highestBelowEphemeral();
  if (highest <= LOWEST) throw new Error(`no port range below the ephemeral one from ${LOWEST}`);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (highest - LOWEST + 1));
    if (handedOut.has(port) || !(await isFree(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port found in ${LOWEST}-${highest}`);
}
