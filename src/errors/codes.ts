// Every error code Tabby raises, in one table: an error's `code` is part of the contract
// (logs, tests and library users match on it, never on messages), so codes are only added,
// never renamed. Protocol and report codes derive from their wire values (CloseCode,
// ReportRefusal), which are spelled in protocol/ and checked against this table by the types.

export const ErrorCode = {
  // config: a setting, flag, file or listen address an operator must fix.
  /** A setting is invalid or unusable (cli exits 2, one line, no stack). */
  Config: 'TABBY_ERR_CONFIG',
  /** The server's TLS files cannot be read or do not fit together. */
  TlsConfig: 'TABBY_ERR_TLS_CONFIG',
  /** Options of the simulated cluster are out of range. */
  SimOptions: 'TABBY_ERR_SIM_OPTIONS',
  /** Options of the policy linter are invalid. */
  LintOptions: 'TABBY_ERR_LINT_OPTIONS',
  /** An operation failed for a reason outside the program (server unreachable, not in sync): exit 1. */
  Command: 'TABBY_ERR_COMMAND',

  // datastore: reading and converting the cluster's objects.
  /** A Kubernetes API request failed (status and reason attached). */
  KubeApi: 'TABBY_ERR_KUBE_API',
  /** An object could not be converted to the KV model (which object, and why). */
  Conversion: 'TABBY_ERR_CONVERSION',
  /** A converter's reason without the object's identity; becomes a Conversion error. */
  ConversionInvalid: 'TABBY_ERR_CONVERSION_INVALID',
  /** A report names a node the datastore does not have. */
  NodeNotFound: 'TABBY_ERR_NODE_NOT_FOUND',
  /** A request to the API emulator fails with a Kubernetes Status. */
  EmulatorApi: 'TABBY_ERR_EMULATOR_API',

  // model and wire.
  /** A label selector does not parse (position and reason attached). */
  Selector: 'TABBY_ERR_SELECTOR',
  /** A value to send breaks the wire's MessagePack profile; nothing was sent. */
  Encode: 'TABBY_ERR_ENCODE',
  /** The client's TLS files cannot be read. */
  ClientTls: 'TABBY_ERR_CLIENT_TLS',

  // protocol: a connection ends with the close code in the name (proto/PROTOCOL.md).
  /** close code frame-too-large: a frame is over the size limit. */
  ProtocolFrameTooLarge: 'TABBY_ERR_PROTOCOL_FRAME_TOO_LARGE',
  /** close code malformed-frame: a frame does not decode. */
  ProtocolMalformedFrame: 'TABBY_ERR_PROTOCOL_MALFORMED_FRAME',
  /** close code unknown-message: a message type this version does not define. */
  ProtocolUnknownMessage: 'TABBY_ERR_PROTOCOL_UNKNOWN_MESSAGE',
  /** close code unexpected-message: a message not allowed in the connection's state. */
  ProtocolUnexpectedMessage: 'TABBY_ERR_PROTOCOL_UNEXPECTED_MESSAGE',
  /** close code unsupported-version: no protocol version in common. */
  ProtocolUnsupportedVersion: 'TABBY_ERR_PROTOCOL_UNSUPPORTED_VERSION',
  /** close code unknown-syncer: a syncer type the server does not serve. */
  ProtocolUnknownSyncer: 'TABBY_ERR_PROTOCOL_UNKNOWN_SYNCER',
  /** close code no-common-compression: no compression in common. */
  ProtocolNoCommonCompression: 'TABBY_ERR_PROTOCOL_NO_COMMON_COMPRESSION',
  /** close code handshake-timeout: HELLO did not complete in time. */
  ProtocolHandshakeTimeout: 'TABBY_ERR_PROTOCOL_HANDSHAKE_TIMEOUT',
  /** close code ping-timeout: the peer stopped answering pings. */
  ProtocolPingTimeout: 'TABBY_ERR_PROTOCOL_PING_TIMEOUT',
  /** close code write-timeout: the peer stopped reading. */
  ProtocolWriteTimeout: 'TABBY_ERR_PROTOCOL_WRITE_TIMEOUT',
  /** close code write-queue-full: too many bytes queued for the peer. */
  ProtocolWriteQueueFull: 'TABBY_ERR_PROTOCOL_WRITE_QUEUE_FULL',
  /** close code too-many-pings: the peer pings faster than allowed. */
  ProtocolTooManyPings: 'TABBY_ERR_PROTOCOL_TOO_MANY_PINGS',
  /** close code fell-behind: the peer is past the fall-behind bound. */
  ProtocolFellBehind: 'TABBY_ERR_PROTOCOL_FELL_BEHIND',
  /** close code unauthenticated: the peer has no accepted identity. */
  ProtocolUnauthenticated: 'TABBY_ERR_PROTOCOL_UNAUTHENTICATED',
  /** close code too-many-connections: the server is at its connection limit. */
  ProtocolTooManyConnections: 'TABBY_ERR_PROTOCOL_TOO_MANY_CONNECTIONS',
  /** close code shutdown: the server is stopping. */
  ProtocolShutdown: 'TABBY_ERR_PROTOCOL_SHUTDOWN',
  /** close code rebalance: the server sheds the connection to balance replicas. */
  ProtocolRebalance: 'TABBY_ERR_PROTOCOL_REBALANCE',
  /** close code not-ready: the server's data is not fresh. */
  ProtocolNotReady: 'TABBY_ERR_PROTOCOL_NOT_READY',
  /** close code hash-mismatch: the client's state hash differs from the server's. */
  ProtocolHashMismatch: 'TABBY_ERR_PROTOCOL_HASH_MISMATCH',
  /** close code inconsistent-stream: a server frame contradicts the stream so far. */
  ProtocolInconsistentStream: 'TABBY_ERR_PROTOCOL_INCONSISTENT_STREAM',
  /** close code client-closing: the client is stopping. */
  ProtocolClientClosing: 'TABBY_ERR_PROTOCOL_CLIENT_CLOSING',
  /** close code internal-error: a bug on the side that sends it. */
  ProtocolInternalError: 'TABBY_ERR_PROTOCOL_INTERNAL_ERROR',

  // reports: the server refuses a REPORT, the connection goes on (PROTOCOL.md §15.3).
  /** refusal unsupported-kind: a report kind the server does not take. */
  ReportUnsupportedKind: 'TABBY_ERR_REPORT_UNSUPPORTED_KIND',
  /** refusal invalid-data: the report's data fails its kind's checks. */
  ReportInvalidData: 'TABBY_ERR_REPORT_INVALID_DATA',
  /** refusal wrong-node: the report is about another node than the sender's. */
  ReportWrongNode: 'TABBY_ERR_REPORT_WRONG_NODE',
  /** refusal invalid-node: the report's node is not a valid node name. */
  ReportInvalidNode: 'TABBY_ERR_REPORT_INVALID_NODE',
  /** refusal rate-limited: the sender reports faster than allowed. */
  ReportRateLimited: 'TABBY_ERR_REPORT_RATE_LIMITED',
  /** refusal unauthenticated: the sender has no identity the server trusts. */
  ReportUnauthenticated: 'TABBY_ERR_REPORT_UNAUTHENTICATED',

  // agent: calc and the dataplanes.
  /** Some of the agent's parts failed to stop (each part's reason attached; the others were stopped). */
  AgentStop: 'TABBY_ERR_AGENT_STOP',
  /** A KV value does not have the shape calc expects; calc treats the key as deleted. */
  BadValue: 'TABBY_ERR_BAD_VALUE',
  /** A policy rule one table syntax cannot express; the rule is left out of that table. */
  RuleSkipped: 'TABBY_ERR_RULE_SKIPPED',
  /** An iptables or nftables apply failed. */
  DataplaneApply: 'TABBY_ERR_DATAPLANE_APPLY',
  /** The bpf dataplane cannot run here (no bpffs, no bpf(), no permission, no object). */
  BpfUnavailable: 'TABBY_ERR_BPF_UNAVAILABLE',
  /** The kernel's verifier rejected a bpf program (named, with the log's tail). */
  BpfVerifier: 'TABBY_ERR_BPF_VERIFIER',
  /** A bpf map update or attach failed. */
  BpfApply: 'TABBY_ERR_BPF_APPLY',
  /** The bpf code map has no room for a program. */
  BpfCodeSpace: 'TABBY_ERR_BPF_CODE_SPACE',
  /** BIRD failed in a way no narrower BIRD code says. */
  Bird: 'TABBY_ERR_BIRD',
  /** The BIRD daemon did not start. */
  BirdStart: 'TABBY_ERR_BIRD_START',
  /** BIRD refused the rendered configuration (line and column attached). */
  BirdConfig: 'TABBY_ERR_BIRD_CONFIG',
  /** BIRD is not running when the driver needs it. */
  BirdNotRunning: 'TABBY_ERR_BIRD_NOT_RUNNING',
  /** BIRD's control socket is missing, refused or closed. */
  BirdConnect: 'TABBY_ERR_BIRD_CONNECT',
  /** BIRD answered a command with an error code. */
  BirdCommand: 'TABBY_ERR_BIRD_COMMAND',
  /** BIRD did not answer a command in time. */
  BirdTimeout: 'TABBY_ERR_BIRD_TIMEOUT',
  /** BIRD's control socket spoke something other than its reply protocol. */
  BirdProtocol: 'TABBY_ERR_BIRD_PROTOCOL',
  /** A WireGuard stage (key, device, peers, …) failed; the stage is attached. */
  Wireguard: 'TABBY_ERR_WIREGUARD',
  /** `wg show dump` output does not parse. */
  WgDump: 'TABBY_ERR_WG_DUMP',
  /** A route cannot be written as an `ip route` spec. */
  RouteSpec: 'TABBY_ERR_ROUTE_SPEC',
  /** Some routes could not be applied (each failure attached). */
  RouteApply: 'TABBY_ERR_ROUTE_APPLY',
  /** The kernel's routes could not be read. */
  RouteRead: 'TABBY_ERR_ROUTE_READ',
  /** The route driver's options are invalid. */
  RouteOptions: 'TABBY_ERR_ROUTE_OPTIONS',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const CODES = new Set<string>(Object.values(ErrorCode));
export const isErrorCode = (code: string): code is ErrorCode => CODES.has(code);

/** A kebab-case wire value in SCREAMING_SNAKE case, as a type. */
type Screaming<S extends string> = S extends `${infer Head}-${infer Tail}`
  ? `${Uppercase<Head>}_${Screaming<Tail>}`
  : Uppercase<S>;

/**
 * The code for a wire value under `prefix`: wireCode('TABBY_ERR_PROTOCOL', 'fell-behind') is
 * 'TABBY_ERR_PROTOCOL_FELL_BEHIND'. Typed exactly, so passing it where an ErrorCode is expected
 * fails to compile when the table lacks a wire value's code.
 */
export const wireCode = <P extends string, S extends string>(prefix: P, value: S): `${P}_${Screaming<S>}` =>
  `${prefix}_${value.toUpperCase().replaceAll('-', '_')}` as `${P}_${Screaming<S>}`;
