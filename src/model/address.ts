// HOST:PORT parsing shared by every address setting ("[::1]:5473" for IPv6).

export function parseHostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(address.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !(port >= 0 && port < 65536)) throw new RangeError(`bad address "${address}", want HOST:PORT`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}
