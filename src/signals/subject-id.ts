import { SetError } from './set-error.js';

/** A simple subject identifier (RFC 9493 section 3.2) in the formats this receiver acts on. */
export type SimpleSubject =
  | { readonly format: 'iss_sub'; readonly iss: string; readonly sub: string }
  | { readonly format: 'email'; readonly email: string }
  | { readonly format: 'opaque'; readonly id: string }
  | { readonly format: 'jwt_id'; readonly iss: string; readonly jti: string }
  /** A well-formed identifier in a format nothing here maps to a token (phone_number, did...). */
  | { readonly format: 'other'; readonly name: string };

/** SSF 1.0 section 3.3: members that together describe one principal. */
export interface ComplexSubject {
  readonly format: 'complex';
  readonly user?: SimpleSubject | undefined;
  readonly session?: SimpleSubject | undefined;
  readonly tenant?: SimpleSubject | undefined;
  /** Members present that this receiver does not act on (device, application, group, org_unit). */
  readonly others: readonly string[];
  /** Every member present, for the critical-member rule (SSF 1.0 section 3.6). */
  readonly members: readonly string[];
}

export type SubjectId = SimpleSubject | ComplexSubject;

const COMPLEX_MEMBERS = ['user', 'device', 'session', 'application', 'tenant', 'org_unit', 'group'] as const;

export interface SubjectOptions {
  /** Google's RISC: `subject_type` for `format`, and `iss-sub` for `iss_sub`. */
  readonly legacySubjectType: boolean;
}

/** The SET's subject, or a SetError when it is missing or malformed (never a guess). */
export function parseSubjectId(value: unknown, options: SubjectOptions, where = 'sub_id'): SubjectId {
  const subject = asObject(value, where);
  const format = formatOf(subject, options, where);
  if (format === 'complex') {
    const members: Record<string, SimpleSubject | undefined> = {};
    const others: string[] = [];
    const present: string[] = [];
    for (const member of COMPLEX_MEMBERS) {
      if (subject[member] === undefined) continue;
      present.push(member);
      const parsed = parseSimple(subject[member], options, `${where}.${member}`);
      if (member === 'user' || member === 'session' || member === 'tenant') members[member] = parsed;
      else others.push(member);
    }
    if (
      members.user === undefined &&
      members.session === undefined &&
      members.tenant === undefined &&
      others.length === 0
    )
      throw new SetError('invalid_request', `${where}: a complex subject with no member`);
    return {
      format: 'complex',
      user: members.user,
      session: members.session,
      tenant: members.tenant,
      others,
      members: present,
    };
  }
  return parseSimple(subject, options, where);
}

function parseSimple(value: unknown, options: SubjectOptions, where: string): SimpleSubject {
  const subject = asObject(value, where);
  const format = formatOf(subject, options, where);
  switch (format) {
    case 'iss_sub':
      return { format, iss: text(subject, 'iss', where), sub: text(subject, 'sub', where) };
    case 'email':
      return { format, email: text(subject, 'email', where) };
    case 'opaque':
      return { format, id: text(subject, 'id', where) };
    case 'jwt_id':
      return { format, iss: text(subject, 'iss', where), jti: text(subject, 'jti', where) };
    case 'complex':
      throw new SetError('invalid_request', `${where}: a complex subject cannot be nested`);
    default:
      return { format: 'other', name: format };
  }
}

function formatOf(subject: Record<string, unknown>, options: SubjectOptions, where: string): string {
  let format = subject.format;
  if (format === undefined && options.legacySubjectType) {
    format = subject.subject_type;
    if (format === 'iss-sub') format = 'iss_sub';
  }
  if (typeof format !== 'string' || format === '')
    throw new SetError('invalid_request', `${where}: no format`);
  return format;
}

function asObject(value: unknown, where: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new SetError('invalid_request', `${where}: not an object`);
  return value as Record<string, unknown>;
}

function text(subject: Record<string, unknown>, member: string, where: string): string {
  const value = subject[member];
  if (typeof value !== 'string' || value === '')
    throw new SetError('invalid_request', `${where}.${member}: must be a non-empty string`);
  return value;
}

/** How logs name a subject: the format and the identifying values, which are not secrets. */
export function describeSubject(subject: SubjectId): string {
  if (subject.format === 'complex') {
    const parts = [
      subject.user && `user ${describeSubject(subject.user)}`,
      subject.session && `session ${describeSubject(subject.session)}`,
      subject.tenant && `tenant ${describeSubject(subject.tenant)}`,
      ...subject.others,
    ].filter(Boolean);
    return `complex(${parts.join(', ')})`;
  }
  switch (subject.format) {
    case 'iss_sub':
      return `${subject.sub} at ${subject.iss}`;
    case 'email':
      return subject.email;
    case 'opaque':
      return `opaque ${subject.id}`;
    case 'jwt_id':
      return `token ${subject.jti} of ${subject.iss}`;
    case 'other':
      return `format ${subject.name}`;
  }
}
