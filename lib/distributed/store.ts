/**
 * The rendezvous store: a small key-value server that rank 0 runs, where ranks leave what the
 * others need to connect (Gloo's addresses, NCCL's unique id). A GET waits until its key is set.
 * The native rendezvous (`native/distributed/store_client.cpp`) speaks the same wire format: a request
 * is op (u8: 1 SET, 2 GET), key length (u32 LE), key, value length (u32 LE), value; SET answers
 * one byte, GET answers value length (u32 LE) and value.
 */
import { type Server, type Socket, connect, createServer } from 'node:net';
import { DistributedError } from '../errors.js';

const SET = 1;
const GET = 2;

/** Rank 0's store server. */
export class StoreServer {
  readonly #server: Server;
  readonly #values = new Map<string, Buffer>();
  readonly #waiting = new Map<string, Socket[]>();
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Listens on `port` (0: any free port) of `host`; the server does not keep the process alive. */
  static async listen(port: number, host?: string): Promise<StoreServer> {
    const server = createServer();
    const store = new StoreServer(server);
    server.on('connection', (socket) => store.#serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(new DistributedError(`the rendezvous store cannot listen on ${host ?? '*'}:${port}: ${error.message}`, { cause: error })));
      server.listen(port, host, () => resolve());
    });
    server.unref();
    return store;
  }

  get port(): number {
    const address = this.#server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #serve(socket: Socket): void {
    socket.unref();
    socket.setNoDelay(true);
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      for (let request = parseRequest(pending); request; request = parseRequest(pending)) {
        pending = pending.subarray(request.bytes);
        if (request.op === SET) this.#set(request.key, request.value, socket);
        else if (request.op === GET) this.#get(request.key, socket);
        else socket.destroy();
      }
    });
  }

  #set(key: string, value: Buffer, socket: Socket): void {
    this.#values.set(key, Buffer.from(value));
    socket.write(Buffer.of(0));
    for (const waiter of this.#waiting.get(key) ?? []) waiter.write(lengthPrefixed(value));
    this.#waiting.delete(key);
  }

  #get(key: string, socket: Socket): void {
    const value = this.#values.get(key);
    if (value) socket.write(lengthPrefixed(value));
    else this.#waiting.set(key, [...(this.#waiting.get(key) ?? []), socket]);
  }
}

/** A rank's connection to the store. Requests are answered in order. */
export class StoreClient {
  readonly #socket: Socket;
  readonly #where: string;
  readonly #timeoutMs: number;
  #received = Buffer.alloc(0);
  readonly #queue: { bytes: 'ack' | 'value'; key: string; resolve: (value: Buffer) => void; reject: (error: Error) => void }[] = [];

  private constructor(socket: Socket, where: string, timeoutMs: number) {
    this.#socket = socket;
    this.#where = where;
    this.#timeoutMs = timeoutMs;
    socket.on('data', (chunk) => {
      this.#received = Buffer.concat([this.#received, chunk]);
      this.#settle();
    });
    socket.on('close', () => this.#failAll(`the rendezvous store at ${where} closed the connection`));
    socket.on('error', (error) => this.#failAll(`the rendezvous store at ${where}: ${error.message}`));
  }

  /** Connects to `host:port`, retrying until `timeoutMs` while rank 0 starts its server. */
  static async connect(host: string, port: number, timeoutMs: number): Promise<StoreClient> {
    const where = `${host}:${port}`;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(port, host, () => resolve(s));
          s.once('error', reject);
        });
        socket.setNoDelay(true);
        return new StoreClient(socket, where, timeoutMs);
      } catch (error) {
        if (Date.now() >= deadline) {
          throw new DistributedError(`cannot reach the rendezvous store at ${where} within ${timeoutMs} ms (is rank 0 running, and MASTER_ADDR/MASTER_PORT right?): ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    await this.#request(SET, key, value, 'ack');
  }

  /** The value of `key`, waiting up to the timeout for a rank to set it. */
  async get(key: string): Promise<Uint8Array> {
    return new Uint8Array(await this.#request(GET, key, new Uint8Array(0), 'value'));
  }

  close(): void {
    this.#socket.destroy();
  }

  #request(op: number, key: string, value: Uint8Array, bytes: 'ack' | 'value'): Promise<Buffer> {
    const keyBytes = Buffer.from(key, 'utf8');
    const header = Buffer.alloc(5);
    header.writeUInt8(op, 0);
    header.writeUInt32LE(keyBytes.length, 1);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new DistributedError(`waited ${this.#timeoutMs} ms for '${key}' in the rendezvous store at ${this.#where}: a rank did not arrive`)), this.#timeoutMs);
      this.#queue.push({
        bytes,
        key,
        resolve: (value) => (clearTimeout(timer), resolve(value)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      this.#socket.write(Buffer.concat([header, keyBytes, lengthPrefixed(value)]));
    });
  }

  #settle(): void {
    while (this.#queue.length > 0) {
      const next = this.#queue[0];
      if (next.bytes === 'ack') {
        if (this.#received.length < 1) return;
        this.#received = this.#received.subarray(1);
        this.#queue.shift()!.resolve(Buffer.alloc(0));
        continue;
      }
      if (this.#received.length < 4) return;
      const size = this.#received.readUInt32LE(0);
      if (this.#received.length < 4 + size) return;
      const value = Buffer.from(this.#received.subarray(4, 4 + size));
      this.#received = this.#received.subarray(4 + size);
      this.#queue.shift()!.resolve(value);
    }
  }

  #failAll(message: string): void {
    for (const request of this.#queue.splice(0)) request.reject(new DistributedError(`${message} while waiting for '${request.key}'`));
  }
}

function parseRequest(buffer: Buffer): { op: number; key: string; value: Buffer; bytes: number } | undefined {
  if (buffer.length < 5) return undefined;
  const keyLength = buffer.readUInt32LE(1);
  if (buffer.length < 9 + keyLength) return undefined;
  const valueLength = buffer.readUInt32LE(5 + keyLength);
  const bytes = 9 + keyLength + valueLength;
  if (buffer.length < bytes) return undefined;
  return { op: buffer[0], key: buffer.toString('utf8', 5, 5 + keyLength), value: buffer.subarray(9 + keyLength, bytes), bytes };
}

function lengthPrefixed(value: Uint8Array): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32LE(value.length, 0);
  return Buffer.concat([length, value]);
}
