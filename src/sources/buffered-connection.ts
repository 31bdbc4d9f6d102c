// An accepted connection read into one buffer of its own, read after read.
//
// Node hands each read of a socket to 'data' in a new buffer of up to 64 KiB: memory outside V8's
// heap, which its collector counts. Fed by ulogd's socket at full speed, a million lines made 41
// full collections where the file source, which reads into one buffer, made 3, and the daemon
// spent ~15 % more CPU (pairs on one core). net.Socket's `onread` option reads into the caller's
// buffer instead, but a server makes its accepted sockets without it (Node 20); so the accepted
// socket, paused from the start (`pauseOnConnect`), gives its handle to a socket made with it. That
// handle is Node's own (`_handle`, not a public API): where it is not the stream handle this
// expects, the connection is read through 'data' as before.
import { Socket, type ConnectOpts, type SocketConstructorOpts } from 'node:net';

/** The part of Node's stream handle (a libuv pipe or TCP wrap) that `onread` relies on. */
interface StreamHandle {
  useUserBuffer(buffer: Uint8Array): void;
}

function isStreamHandle(handle: unknown): handle is StreamHandle {
  return typeof handle === 'object' && handle !== null && typeof (handle as Partial<StreamHandle>).useUserBuffer === 'function';
}

/**
 * The socket to read `accepted` (paused, from a server made with `pauseOnConnect`) through: its
 * bytes go to `onBytes` as a view of the buffer `makeBuffer` gives (asked for only where the
 * connection is read into it, not when read through 'data'), valid until the next call. Listen for
 * 'error' and 'close', and destroy, on the socket returned.
 */
export function readIntoBuffer(accepted: Socket, makeBuffer: () => Buffer, onBytes: (bytes: Buffer) => void): Socket {
  const holder = accepted as unknown as { _handle?: unknown };
  const handle = holder._handle;
  if (!isStreamHandle(handle)) {
    accepted.on('data', onBytes);
    accepted.resume();
    return accepted;
  }
  holder._handle = null;
  const buffer = makeBuffer();
  // `handle` is how Node's own server hands an accepted handle to a Socket; `onread` is typed on connect's options.
  const options: SocketConstructorOpts & Pick<ConnectOpts, 'onread'> & { handle: StreamHandle } = {
    handle,
    readable: true,
    writable: true,
    onread: {
      buffer,
      callback: (length: number): boolean => {
        onBytes(buffer.subarray(0, length));
        return true;
      },
    },
  };
  const socket = new Socket(options);
  // Without its handle the accepted socket still counts among its server's connections (the
  // server's close waits for them) until it is destroyed.
  socket.once('close', () => accepted.destroy());
  return socket;
}
