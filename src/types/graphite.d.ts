// Minimal types for node-graphite 0.1.5 (CommonJS, untyped): only what nfwatch uses.

declare module 'graphite' {
  /** What CarbonClient writes to: anything with a stream-like write(data, encoding, cb). */
  interface GraphiteClientCarbon {
    write(metrics: Record<string, number>, timestamp: number, cb: (err?: Error | null) => void): void;
    end(): void;
  }

  class GraphiteClient {
    constructor(properties: { carbon: GraphiteClientCarbon });
    static createClient(carbonDsn: string): GraphiteClient;
    static flatten(obj: object, flat?: Record<string, number>, prefix?: string): Record<string, number>;
    /** `timestamp` in ms (floored to seconds); a falsy timestamp means "now". */
    write(metrics: Record<string, number>, timestamp: number, cb: (err?: Error | null) => void): void;
    end(): void;
  }

  export = GraphiteClient;
}

declare module 'graphite/lib/CarbonClient.js' {
  interface CarbonSocket {
    write(data: string, encoding: BufferEncoding, cb: (err?: Error | null) => void): void;
    end(): void;
  }

  class CarbonClient {
    /** With `socket`, CarbonClient never opens its own (LazySocket) connection. */
    constructor(properties: { dsn?: string; socket?: CarbonSocket });
    write(metrics: Record<string, number>, timestamp: number, cb: (err?: Error | null) => void): void;
    end(): void;
  }

  export = CarbonClient;
}
