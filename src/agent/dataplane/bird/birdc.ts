// A client for BIRD 2's control socket, speaking the line protocol directly over node:net so the
// agent needs no birdc binary. Each reply line carries a 4-digit code followed by '-' (more lines
// follow) or ' ' (last line); a line starting with a space continues the previous code; '+' marks
// a spontaneous printout. 8xxx (run-time) and 9xxx (parse) codes are errors (doc/reply_codes).

import net from 'node:net';
import { ErrorCode } from '../../../errors/codes.js';
import { TabbyError } from '../../../errors/tabby-error.js';

export interface BirdReplyLine {
  /** The reply code this line belongs to (continuation lines inherit the previous code). */
  readonly code: number;
  /** The text after the code and separator (or after the leading space of a continuation). */
  readonly text: string;
}

export interface BirdReply {
  /** The code of the final line (0 = OK, 3 = reconfigured, 13 = status report, …). */
  readonly code: number;
  readonly lines: readonly BirdReplyLine[];
}

/** What birdc would print for a reply: each line's text, without codes and the empty final OK. */
export function replyText(reply: BirdReply): string {
  const lines = reply.lines.filter(
    (l, i) => !(l.code === 0 && l.text === '' && i === reply.lines.length - 1),
  );
  return lines.map((l) => l.text).join('\n');
}

export class BirdError extends TabbyError {
  /** `code` is for subclasses: a plain BirdError is TABBY_ERR_BIRD. */
  constructor(message: string, options?: { cause?: unknown }, code: ErrorCode = ErrorCode.Bird) {
    super(code, message, options);
  }
}

/** The control socket is missing, refused the connection or closed before greeting. */
export class BirdConnectError extends BirdError {
  constructor(
    readonly socketPath: string,
    readonly reason: 'missing' | 'refused' | 'denied' | 'closed' | 'timeout' | 'other',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options, ErrorCode.BirdConnect);
  }
}

/** BIRD answered with an 8xxx (run-time) or 9xxx (parse) code. */
export class BirdCommandError extends BirdError {
  constructor(
    readonly command: string,
    readonly birdCode: number,
    /** BIRD's own message, e.g. `/etc/bird.cfg:2:51 syntax error, …`. */
    readonly birdMessage: string,
    readonly reply: BirdReply,
  ) {
    super(`bird: ${command}: ${birdMessage} (code ${birdCode})`, undefined, ErrorCode.BirdCommand);
  }
}

/** No complete reply within the deadline; the connection is closed since its state is unknown. */
export class BirdTimeoutError extends BirdError {
  constructor(
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super(`bird: no reply to "${command}" within ${timeoutMs} ms`, undefined, ErrorCode.BirdTimeout);
  }
}

/** The daemon sent something that is not the reply protocol, or closed in the middle of a reply. */
export class BirdProtocolError extends BirdError {
  constructor(message: string) {
    super(message, undefined, ErrorCode.BirdProtocol);
  }
}

const LINE_RE = /^(\d{4})([ -])(.*)$/;

/**
 * Incremental reply parser: feed it socket text, take complete replies. Pure, so unit tests can
 * feed it captured bytes.
 */
export class BirdReplyParser {
  #partial = '';
  #lines: BirdReplyLine[] = [];
  #lastCode: number | undefined;
  readonly asyncLines: string[] = [];

  /** Returns the replies completed by this chunk, in order. */
  push(chunk: string): BirdReply[] {
    const done: BirdReply[] = [];
    const parts = (this.#partial + chunk).split('\n');
    this.#partial = parts.pop() ?? '';
    for (const raw of parts) {
      const reply = this.#line(raw);
      if (reply) done.push(reply);
    }
    return done;
  }

  /** True while a reply has started but its final line has not arrived. */
  get midReply(): boolean {
    return this.#lines.length > 0 || this.#partial !== '';
  }

  #line(raw: string): BirdReply | undefined {
    if (raw.startsWith('+')) {
      this.asyncLines.push(raw.slice(1));
      return undefined;
    }
    if (raw.startsWith(' ')) {
      if (this.#lastCode === undefined) throw new BirdProtocolError(`continuation before any code: "${raw}"`);
      this.#lines.push({ code: this.#lastCode, text: raw.slice(1) });
      return undefined;
    }
    const m = LINE_RE.exec(raw);
    if (!m) throw new BirdProtocolError(`not a BIRD reply line: "${raw}"`);
    const code = Number(m[1]);
    this.#lines.push({ code, text: m[3] ?? '' });
    this.#lastCode = code;
    if (m[2] === '-') return undefined;
    const reply = { code, lines: this.#lines };
    this.#lines = [];
    this.#lastCode = undefined;
    return reply;
  }
}

/** Splits a whole captured socket transcript (greeting included) into replies. */
export function parseReplies(text: string): BirdReply[] {
  return new BirdReplyParser().push(text.endsWith('\n') ? text : `${text}\n`);
}

export function isErrorCode(code: number): boolean {
  return code >= 8000 && code <= 9999;
}

export interface BirdClientOptions {
  readonly socketPath: string;
  /** Connect and read the greeting within this time. Default 2,000 ms. */
  readonly connectTimeoutMs?: number;
  /** Default per-command deadline. Default 10,000 ms. */
  readonly commandTimeoutMs?: number;
}

interface Pending {
  readonly command: string;
  resolve(reply: BirdReply): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * One connection to the control socket. Commands are queued and answered in order (the daemon
 * answers one command at a time per connection). Use `BirdClient.connect`, then `close()`.
 */
export class BirdClient {
  readonly #socket: net.Socket;
  readonly #socketPath: string;
  readonly #parser = new BirdReplyParser();
  readonly #queue: Pending[] = [];
  readonly #commandTimeoutMs: number;
  #closedError: Error | undefined;
  /** From the greeting, e.g. `BIRD 2.0.12 ready.` */
  greeting = '';

  private constructor(socket: net.Socket, socketPath: string, commandTimeoutMs: number) {
    this.#socket = socket;
    this.#socketPath = socketPath;
    this.#commandTimeoutMs = commandTimeoutMs;
  }

  /** Connects and waits for the `0001` greeting; rejects with BirdConnectError. */
  static connect(options: BirdClientOptions): Promise<BirdClient> {
    const { socketPath } = options;
    const timeoutMs = options.connectTimeoutMs ?? 2_000;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ path: socketPath });
      socket.setEncoding('utf8');
      const client = new BirdClient(socket, socketPath, options.commandTimeoutMs ?? 10_000);
      let greeted = false;
      const fail = (err: BirdConnectError): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () =>
          fail(
            new BirdConnectError(
              socketPath,
              'timeout',
              `BIRD control socket ${socketPath}: no greeting within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      // The greeting is the first reply; the client's own handlers take over after it.
      client.#queue.push({
        command: '(greeting)',
        timer: undefined,
        resolve: (reply) => {
          clearTimeout(timer);
          greeted = true;
          if (reply.code !== 1) {
            socket.destroy();
            reject(
              new BirdConnectError(
                socketPath,
                'other',
                `BIRD control socket ${socketPath}: unexpected greeting code ${reply.code}`,
              ),
            );
            return;
          }
          client.greeting = reply.lines[0]?.text ?? '';
          resolve(client);
        },
        reject: (err) => {
          if (!greeted) fail(connectError(socketPath, err));
        },
      });
      client.#attach();
    });
  }

  /** Sends one command; resolves with the reply, rejects with BirdCommandError on 8xxx/9xxx. */
  command(command: string, timeoutMs = this.#commandTimeoutMs): Promise<BirdReply> {
    if (/[\r\n]/.test(command))
      return Promise.reject(new BirdError(`bird: command contains a newline: ${JSON.stringify(command)}`));
    if (this.#closedError) return Promise.reject(this.#closedError);
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        command,
        timer: undefined,
        resolve: (reply) => {
          if (pending.timer) clearTimeout(pending.timer);
          if (isErrorCode(reply.code)) {
            const message = reply.lines
              .filter((l) => isErrorCode(l.code))
              .map((l) => l.text)
              .join('\n');
            reject(new BirdCommandError(command, reply.code, message, reply));
          } else resolve(reply);
        },
        reject: (err) => {
          if (pending.timer) clearTimeout(pending.timer);
          reject(err);
        },
      };
      pending.timer = setTimeout(() => this.#fail(new BirdTimeoutError(command, timeoutMs)), timeoutMs);
      this.#queue.push(pending);
      this.#socket.write(`${command}\n`);
    });
  }

  /** `configure "FILE"` (or `configure check "FILE"`): 0003 reconfigured / 0004 in progress / 0020 OK. */
  configure(file: string, options: { check?: boolean; timeoutMs?: number } = {}): Promise<BirdReply> {
    return this.command(`configure ${options.check ? 'check ' : ''}${quote(file)}`, options.timeoutMs);
  }

  showProtocolsAll(): Promise<BirdReply> {
    return this.command('show protocols all');
  }

  showStatus(): Promise<BirdReply> {
    return this.command('show status');
  }

  restart(protocol: string): Promise<BirdReply> {
    if (!/^[A-Za-z_][\w]*$/.test(protocol))
      return Promise.reject(new BirdError(`bird: not a protocol name: ${protocol}`));
    return this.command(`restart ${protocol}`);
  }

  close(): void {
    this.#closedError ??= new BirdError('bird: client closed');
    this.#socket.end();
    this.#socket.destroy();
  }

  #attach(): void {
    this.#socket.on('data', (chunk: string) => {
      let replies: BirdReply[];
      try {
        replies = this.#parser.push(chunk);
      } catch (err) {
        this.#fail(err as Error);
        return;
      }
      for (const reply of replies) {
        const pending = this.#queue.shift();
        if (!pending) {
          this.#fail(new BirdProtocolError(`unsolicited reply code ${reply.code}`));
          return;
        }
        pending.resolve(reply);
      }
    });
    // A reset mid-conversation (bird shutting down) is a connection error like any other.
    this.#socket.on('error', (err) => this.#fail(connectError(this.#socketPath, err)));
    this.#socket.on('close', () =>
      this.#fail(new BirdConnectError(this.#socketPath, 'closed', 'BIRD closed the control connection')),
    );
  }

  #fail(err: Error): void {
    this.#closedError ??= err;
    this.#socket.destroy();
    for (const p of this.#queue.splice(0)) p.reject(err);
  }
}

function quote(file: string): string {
  if (/["\r\n]/.test(file))
    throw new BirdError(`bird: file name cannot be quoted for BIRD: ${JSON.stringify(file)}`);
  return `"${file}"`;
}

function connectError(socketPath: string, err: Error): BirdConnectError {
  if (err instanceof BirdConnectError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT')
    return new BirdConnectError(
      socketPath,
      'missing',
      `BIRD control socket ${socketPath} does not exist (is bird running?)`,
      {
        cause: err,
      },
    );
  if (code === 'ECONNREFUSED')
    return new BirdConnectError(
      socketPath,
      'refused',
      `BIRD control socket ${socketPath} refused the connection (bird is not running; stale socket?)`,
      { cause: err },
    );
  if (code === 'EACCES' || code === 'EPERM')
    return new BirdConnectError(
      socketPath,
      'denied',
      `BIRD control socket ${socketPath}: permission denied`,
      { cause: err },
    );
  return new BirdConnectError(socketPath, 'other', `BIRD control socket ${socketPath}: ${err.message}`, {
    cause: err,
  });
}

/** Connects, runs one command, closes: for status queries and one-off commands. */
export async function birdCommand(
  options: BirdClientOptions,
  command: string,
  timeoutMs?: number,
): Promise<BirdReply> {
  const client = await BirdClient.connect(options);
  try {
    return await client.command(command, timeoutMs);
  } finally {
    client.close();
  }
}
