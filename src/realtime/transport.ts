/** What a session needs from its connection. The ws adapter and the in-process test client both
 * implement it, so tests without a port drive exactly the code real sockets do. */
export interface Transport {
  /** Sends one text frame. Fan-out passes the same Buffer to every subscriber. */
  send(frame: Buffer | string): void;
  close(code: number, reason: string): void;
  /** Bytes queued but not yet written to the network. */
  readonly bufferedAmount: number;
}
