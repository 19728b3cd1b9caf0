// A small internet out of Linux network namespaces, for NAT tests: a "public"
// bridge (11.0.0.0/24: an address range libp2p counts as public, unlike the
// TEST-NET ones, and unreachable from here since no route leaves the
// namespaces) with public hosts on it, and private hosts each behind its own
// router that masquerades (iptables MASQUERADE, the NAT of a home router). The
// test process joins the bridge as 11.0.0.254, a host on the internet: it
// reaches public hosts, not private ones. Needs root (CAP_NET_ADMIN).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

// ip, sysctl and iptables live in /usr/sbin and /sbin, which a user's PATH (or `PATH=/usr/bin:/bin npm test`)
// may leave out: the commands are run with those folders added.
const ADMIN_ENV: NodeJS.ProcessEnv = { ...process.env, PATH: [process.env.PATH, '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean).join(':') };

const PUBLIC_NET = '11.0.0';
/** The test process's own address on the public bridge. */
export const OUTSIDE_IP = `${PUBLIC_NET}.254`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], env: ADMIN_ENV });
}

/** Deletes namespace `ns`, if it is still there. */
function dropNamespace(ns: string): void {
  try {
    ip('netns', 'del', ns);
  } catch {
    // already gone
  }
}

/** Why namespaces cannot be made here (not root, no `ip`), or undefined when they can. */
export function namespacesUnavailable(): string | undefined {
  const probe = `mcpedge-probe-${process.pid}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return undefined;
  } catch (err) {
    return `network namespaces cannot be created here (${(err as Error).message.split('\n')[0]}); the NAT tests need root and iproute2`;
  }
}

export interface Host {
  /** The namespace the host's processes run in. */
  ns: string;
  /** Its own address: public, or private behind its router. */
  ip: string;
  /** The address the internet sees it as: its own, or its router's. */
  publicIp: string;
}

export interface Internet {
  /** A host on the public bridge, at 11.0.0.<n>. */
  publicHost(name: string, n: number): Host;
  /** A host at 10.0.<n>.2 behind a router at 11.0.0.<n> that masquerades. */
  privateHost(name: string, n: number): Host;
  /** Runs `command` in `host`'s namespace; killed by close(). */
  spawn(host: Host, command: string, args: string[]): ChildProcess;
  /** Kills every process spawned and deletes every namespace (idempotent). */
  close(): Promise<void>;
}

/** The public bridge, with this process on it; `tag` keeps concurrent runs apart (interface names are 15 bytes at most). */
export function buildInternet(tag: string): Internet {
  const namespaces: string[] = [];
  const children: ChildProcess[] = [];
  const addNs = (name: string): string => {
    const ns = `${tag}-${name}`;
    ip('netns', 'add', ns);
    namespaces.push(ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    return ns;
  };
  /** A veth from namespace `ns` (or this one) into the bridge, named `${tag}w` there (`${tag}o` here), `${tag}p<n>` on the bridge. */
  const plug = (ns: string | undefined, n: number, addr: string): void => {
    const outer = ns ? `${tag}w` : `${tag}o`;
    ip('link', 'add', outer, ...(ns ? ['netns', ns] : []), 'type', 'veth', 'peer', 'name', `${tag}p${n}`, 'netns', pub);
    ip('-n', pub, 'link', 'set', `${tag}p${n}`, 'master', 'br0', 'up');
    const at = ns ? ['-n', ns] : [];
    ip(...at, 'link', 'set', outer, 'up');
    ip(...at, 'addr', 'add', `${addr}/24`, 'dev', outer);
  };
  const pub = addNs('pub');
  try {
    ip('-n', pub, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', pub, 'link', 'set', 'br0', 'up');
    plug(undefined, 254, OUTSIDE_IP);
  } catch (err) {
    for (const ns of namespaces) dropNamespace(ns);
    throw err;
  }
  return {
    publicHost(name, n) {
      const ns = addNs(name);
      plug(ns, n, `${PUBLIC_NET}.${n}`);
      return { ns, ip: `${PUBLIC_NET}.${n}`, publicIp: `${PUBLIC_NET}.${n}` };
    },
    privateHost(name, n) {
      const router = addNs(`${name}r`);
      plug(router, n, `${PUBLIC_NET}.${n}`);
      const ns = addNs(name);
      const lan = `${tag}l`;
      ip('link', 'add', lan, 'netns', router, 'type', 'veth', 'peer', 'name', `${lan}h`, 'netns', ns);
      ip('-n', router, 'link', 'set', lan, 'up');
      ip('-n', router, 'addr', 'add', `10.0.${n}.1/24`, 'dev', lan);
      ip('-n', ns, 'link', 'set', `${lan}h`, 'up');
      ip('-n', ns, 'addr', 'add', `10.0.${n}.2/24`, 'dev', `${lan}h`);
      ip('-n', ns, 'route', 'add', 'default', 'via', `10.0.${n}.1`);
      execFileSync('ip', ['netns', 'exec', router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'], { env: ADMIN_ENV });
      execFileSync('ip', ['netns', 'exec', router, 'iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', `${tag}w`, '-j', 'MASQUERADE'], { env: ADMIN_ENV });
      return { ns, ip: `10.0.${n}.2`, publicIp: `${PUBLIC_NET}.${n}` };
    },
    spawn(host, command, args) {
      const child = spawn('ip', ['netns', 'exec', host.ns, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: ADMIN_ENV });
      children.push(child);
      return child;
    },
    async close() {
      await Promise.all(
        children.splice(0).map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
              child.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              child.kill('SIGTERM');
            }),
        ),
      );
      // Deleting a namespace deletes the veths in it, and so their peers (ours on the bridge too).
      for (const ns of namespaces.splice(0).reverse()) dropNamespace(ns);
    },
  };
}
