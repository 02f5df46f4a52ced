/**
 * The endpoint gave no usable answer: down, slow, busy, or an answer that is not an RFC 7662
 * response (an HTML page, a 500, garbage, too large). Never a verdict on the token: the route's
 * `onUnavailable` decides what it means (503, or the local verdict).
 */
export class IntrospectionUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IntrospectionUnavailable';
  }
}
