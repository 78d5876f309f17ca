/**
 * An actor's mailbox as a world holds it: its envelopes, oldest first, with what the engine
 * learnt about it (its digest, and the delivery it offers to a given snapshot). A step that
 * sends or delivers makes a new mailbox and leaves the old one intact. The caches are fields of
 * one class for the reason `ActorPart`'s are: plain loads on the engine's hot paths.
 */
import type { ActorPart } from './ActorPart.ts';
import type { Envelope, Step } from './World.ts';
import { mailboxDigest } from './worldHash.ts';

/*
 * The 53-bit numbers a mailbox keeps (its digest, its hash term) are kept as two 32-bit halves,
 * each a small integer: a field holding a larger number points to a number object of its own,
 * two more objects per mailbox for the young generation's collector to copy, and the explorer
 * keeps a mailbox or two per frontier state.
 */
const HALF = 4294967296;

export class Mailbox {
  /** `digest`'s high half, -1 until computed, and its low half (as a signed 32-bit integer). */
  private digestHi = -1;
  private digestLo = 0;
  /** The engine's delivery memo: the part it was found for, and the delivery (null: none acceptable). */
  deliveryFor: ActorPart | null = null;
  delivery: Step | null = null;
  /**
   * The send order of the envelope `delivery` takes, kept beside it: the engine orders an
   * expanded world's deliveries by it, and reading it here spares a load of the step and of its
   * envelope for each mailbox (a frontier world's parts are rarely still in cache).
   */
  deliverySeq = 0;
  /**
   * The world hash's term for this mailbox with part `termFor` at actor index `termAt` (see
   * `plainTerm` in worldHash.ts): each term is needed again when a child world is hashed from
   * its parent, to take the parent's term out.
   */
  termFor: ActorPart | null = null;
  termAt = -1;
  private termHi = 0;
  private termLo = 0;

  get term(): number {
    return this.termHi * HALF + (this.termLo >>> 0);
  }

  set term(term: number) {
    this.termHi = Math.floor(term / HALF);
    this.termLo = term | 0;
  }

  /** How many envelopes (a field: the engine looks at every mailbox of every world it expands). */
  readonly size: number;
  /**
   * The envelope of a mailbox holding one, else null; a mailbox holding more keeps them in
   * `list`. Most mailboxes hold one message, and a list of one is two more objects per mailbox
   * for the young generation's collector to copy.
   */
  private readonly only: Envelope | null;
  private readonly list: readonly Envelope[] | null;

  /** A mailbox of `envelopes` (oldest first), or of the one envelope given. */
  constructor(envelopes: readonly Envelope[] | Envelope) {
    if (isEnvelopeList(envelopes)) {
      this.size = envelopes.length;
      this.only = envelopes.length === 1 ? envelopes[0] : null;
      this.list = envelopes.length > 1 ? envelopes : null;
    } else {
      this.size = 1;
      this.only = envelopes;
      this.list = null;
    }
  }

  /** The envelopes, oldest first (a new list for a mailbox of one: hot paths use `envelopeAt`). */
  get envelopes(): readonly Envelope[] {
    return this.only !== null ? [this.only] : (this.list ?? NO_ENVELOPES);
  }

  /**
   * An object that stands for this mailbox's envelopes, for caches kept on objects (symmetry
   * reduction's renamed digests): the envelope of a mailbox of one, else the list.
   */
  get content(): object {
    return this.only ?? this.list ?? NO_ENVELOPES;
  }

  /** The `index`th envelope, oldest first (`index` below `size`). */
  envelopeAt(index: number): Envelope {
    return this.only ?? this.list![index];
  }

  /** The envelopes' events in order, with their senders (not their global sequence numbers); 0 when empty. */
  get digest(): number {
    if (this.size === 0) return 0;
    if (this.digestHi < 0) {
      const digest = mailboxDigest(this);
      this.digestHi = Math.floor(digest / HALF);
      this.digestLo = digest | 0;
    }
    return this.digestHi * HALF + (this.digestLo >>> 0);
  }

  /** This mailbox with `envelope` last. */
  append(envelope: Envelope): Mailbox {
    if (this.size === 0) return new Mailbox(envelope);
    return new Mailbox(this.only !== null ? [this.only, envelope] : [...this.list!, envelope]);
  }

  /** This mailbox without the envelope numbered `seq`. */
  without(seq: number): Mailbox {
    if (this.size === 1) return NO_MAIL;
    const envelopes = this.list!;
    if (envelopes.length === 2) return new Mailbox(envelopes[0].seq === seq ? envelopes[1] : envelopes[0]);
    return new Mailbox(envelopes[0].seq === seq ? envelopes.slice(1) : envelopes.filter((e) => e.seq !== seq));
  }
}

const NO_ENVELOPES: readonly Envelope[] = Object.freeze([]);

function isEnvelopeList(envelopes: readonly Envelope[] | Envelope): envelopes is readonly Envelope[] {
  return Array.isArray(envelopes);
}

/** The empty mailbox, shared (frozen: no memo is ever written on it, as nothing is delivered from it). */
export const NO_MAIL: Mailbox = Object.freeze(new Mailbox(NO_ENVELOPES)) as Mailbox;

/** A mailbox holding `envelopes` (the shared empty one when there are none). */
export function mailboxOfEnvelopes(envelopes: readonly Envelope[]): Mailbox {
  return envelopes.length === 0 ? NO_MAIL : new Mailbox(envelopes);
}
