/** What a session needs from its connection. The ws adapter and the in-process test client both
 * implement it, so tests without a port drive exactly the code real sockets do. */
export interface Transport {
  /** Sends one text frame. Fan-out passes the same Buffer to every subscriber. */
  send(frame: Buffer | string): void;
  close(code: number, reason: string): void;
  /** Bytes queued but not yet written to the network. */
  readonly bufferedAmount: number;
  /** Changes the largest frame the client may send (smaller until `connect` succeeds); frames over
   * it close the connection with 1009 before they are read into memory. */
  limitFrames?(bytes: number): void;
}
