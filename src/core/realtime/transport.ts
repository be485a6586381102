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
  /** Sends a WebSocket-level ping (browsers answer with a pong on their own): the heartbeat of
   * connections whose client never answers `{"op":"ping"}` (Django Channels frontends). A transport
   * without one (the in-process TestClient) has no network to lose, and such connections are not
   * timed out for silence. */
  ping?(): void;
}
