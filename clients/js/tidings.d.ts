export class TidingsError extends Error {
  code: string;
  temporary: boolean;
  /** RATE_LIMITED: milliseconds to wait before retrying (0 otherwise). */
  retryAfterMs: number;
}

export interface SavedPositions {
  position: number | null;
  epoch: string;
  /** Followed room streams: roomId -> [room position, epoch]. */
  rooms?: Record<string, [number, string]>;
}
export interface PositionStore {
  load(): SavedPositions | null;
  save(positions: SavedPositions): void;
}
export function memoryStore(): PositionStore;
export function localStorageStore(key: string): PositionStore;

export type State = "idle" | "connected" | "reconnecting" | "resumed" | "not_recovered";

export interface InboxEvent {
  type: "event";
  position: number;
  epoch: string;
  /** Payload name: "messagePosted", "memberJoined", "acked", ... */
  kind: string;
  roomId: string;
  actor: string;
  payload: Record<string, any>;
  envelope: Record<string, any>;
  /** "inbox", or "room" for an event of a followed room stream (then position is its room position). */
  stream: "inbox" | "room";
  /** The event's position in its room (what ack and history use). */
  roomPosition: number;
}
export interface PresenceEvent { type: "presence"; userId: string; deviceId: string; status: string; online: boolean; }
export interface TypingEvent { type: "typing"; roomId: string; userId: string; typing: boolean; }
export interface StateEvent { type: "state"; state: State; recovery: string; }
/** An application event (docs/events.md): volatile (position 0) or durable (its room position). */
export interface AppEvent<P = any> {
  type: "app";
  name: string;
  payload: P;
  /** The room it was emitted in ("" for a volatile event sent to you alone). */
  roomId: string;
  sender: string;
  position: number;
  durable: boolean;
}
export interface EmitAck<A = any> {
  /** Durable: the logged event (event.position is its room position). */
  event?: Record<string, any>;
  duplicate?: boolean;
  /** Volatile: recipients online when it was relayed. */
  delivered?: number;
  /** What a server plugin handling this event answered. */
  answer?: A;
  handlerError?: string;
}
export type ClientEvent = InboxEvent | PresenceEvent | TypingEvent | StateEvent | AppEvent;

export interface ClientOptions {
  /** Gateways to fail over to, in turn (default: just the constructor's url). */
  urls?: string[];
  token?: string;
  tokenProvider?: () => string | Promise<string>;
  deviceId?: string;
  /** The namespace to work in; the token must grant it (default "default"). */
  namespace?: string;
  store?: PositionStore;
  httpUrl?: string;
  WebSocket?: any;
  fetch?: typeof fetch;
  backoffInitial?: number;
  backoffMax?: number;
  /** Seconds over which the first reconnect after a dropped connection is spread (default 3). */
  reconnectSpread?: number;
  /** Events kept for next() / for await; beyond it the oldest are dropped (default 1000). */
  maxQueued?: number;
}

export class TidingsClient implements AsyncIterable<ClientEvent> {
  constructor(url: string, options: ClientOptions);
  state: State;
  userId: string;
  position: number | null;
  epoch: string;
  /** Followed room streams (channels, large rooms): roomId -> [room position, epoch]. */
  rooms: Map<string, [number, string]>;
  on(type: "event", handler: (e: InboxEvent) => void): () => void;
  on(type: "presence", handler: (e: PresenceEvent) => void): () => void;
  on(type: "typing", handler: (e: TypingEvent) => void): () => void;
  on(type: "state", handler: (e: StateEvent) => void): () => void;
  /** Every application event. */
  on(type: "app", handler: (e: AppEvent) => void): () => void;
  /** The application events of one name, durable or volatile. */
  on<P = any>(name: string, handler: (e: AppEvent<P>) => void): () => void;
  connect(timeoutSeconds?: number): Promise<void>;
  close(): void;
  dropConnection(): void;
  next(): Promise<ClientEvent>;
  [Symbol.asyncIterator](): AsyncIterator<ClientEvent>;
  send(roomId: string, text: string, options?: { clientMsgId?: string; timeout?: number }): Promise<Record<string, any>>;
  join(roomId: string): Promise<Record<string, any>>;
  leave(roomId: string): Promise<Record<string, any>>;
  edit(roomId: string, messageId: string, text: string): Promise<Record<string, any>>;
  delete(roomId: string, messageId: string): Promise<Record<string, any>>;
  ack(roomId: string, upTo: number, options?: { read?: boolean }): Promise<Record<string, any>>;
  typing(roomId: string, typing?: boolean): Promise<Record<string, any>>;
  emit<P = any, A = any>(
    name: string,
    payload?: P,
    options?: { room?: string; user?: string; volatile?: boolean; clientEventId?: string; timeout?: number },
  ): Promise<EmitAck<A>>;
  setPresence(status: "online" | "away" | "offline"): Promise<Record<string, any>>;
  history(roomId: string, options?: { before?: number; limit?: number }): Promise<{ messages: Record<string, any>[]; hasMore: boolean }>;
  /** Follows a room stream (done by itself for rooms the inbox announces, and on reconnect). */
  follow(roomId: string, position?: number | null, epoch?: string): Promise<void>;
  unfollow(roomId: string): Promise<Record<string, any>>;
  rest(method: string, path: string, body?: unknown): Promise<any>;
  request(command: string, body: Record<string, any>, timeoutSeconds?: number): Promise<Record<string, any>>;
}
