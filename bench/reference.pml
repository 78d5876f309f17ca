/*
 * The exploration benchmark's reference protocol in Promela, for Spin: the same protocol as
 * bench/referenceBaseline.ts (read that file's header for the QEMU side), with the same state,
 * the same choices and the same granularity, so that Spin's state counts and verdicts can be
 * set next to the baseline's and drainlab's (bench/spinReference.ts runs it).
 *
 *   spin -o2 -a -DN=2 -DD=1 [-DEXTERNAL_GATING=0] [-DNBD_EXTERNAL=0] [-DTRANSACTION_DRAINS=0]
 *        [-DQED_DRAIN_HOOK=0] [-DJUDGE_I6=1] reference.pml
 *   gcc -O2 -DSAFETY -DNOCLAIM -DNOREDUCE [-DBFS] -o pan pan.c && ./pan -m10000
 *
 * `-o2` keeps write-only variables (the point in time's bitmask, `pointInTime`) in the state
 * vector, as the baseline keeps its `snapshot`; without it Spin drops them and could merge
 * states the baseline tells apart.
 *
 * N NBD clients with two allocating writes each (client i's writes are 2i and 2i+1) to qed
 * node i mod D; D drives, one transaction action (external snapshot) per drive. Every
 * protection defaults to on, I6 to not judged, as in the baseline.
 *
 * Granularity: every step of the baseline (one successor in its `successors`) is one d_step
 * here, so no intermediate state is stored. The processes are per object rather than per
 * thread, because a Promela process has a fixed set of choices: one `Write` process per write
 * (its four steps: the guest sends it, the context dispatches it, the host completes it, its
 * completion bottom half runs), one `QedTimer` process per drive (the timer fires, the host
 * completes its flush, the flush's bottom half runs) and `Main`, the main thread's
 * qmp_transaction. Which process moves is Spin's choice, so the choices are the baseline's.
 *
 * A Write process's own program counter is the write's stage, and Main's global `pc` is the
 * baseline's `pc`. The counters marked "derived" are functions of the other variables, kept so
 * that the guards stay expressions (a d_step is enabled when its first statement is); they add
 * no states. Scratch variables used inside one d_step are set back to 0 before it ends.
 *
 * Checked: I1, I5, I10 and (with JUDGE_I6=1) I6 as assertions on the step that breaks them;
 * conservation as Spin's invalid end state: a state without successors is a valid end only if
 * every Write process has reached `end_done` (its write done) and Main `end_transaction` (the
 * transaction over). Main blocked in a poll that never returns, or a write that is never
 * dispatched, is reported as "invalid end state" (bench/spinReference.ts calls it conservation).
 */

#ifndef N
#define N 1
#endif
#ifndef D
#define D 1
#endif
#ifndef EXTERNAL_GATING
#define EXTERNAL_GATING 1
#endif
#ifndef NBD_EXTERNAL
#define NBD_EXTERNAL 1
#endif
#ifndef TRANSACTION_DRAINS
#define TRANSACTION_DRAINS 1
#endif
#ifndef QED_DRAIN_HOOK
#define QED_DRAIN_HOOK 1
#endif
#ifndef JUDGE_I6
#define JUDGE_I6 0
#endif

#define WRITES (2 * N)
/* Client i's writes (2i and 2i+1) go to drive i mod D. */
#define driveOf(w) (((w) / 2) % D)

/* Where a write is (the baseline's W): not yet sent, ready on the socket, in the host, completed by the host, done. */
#define UNSENT 0
#define READY 1
#define IN_HOST 2
#define HOST_DONE 3
#define DONE 4

/* The main thread's program: 0 drain_all; for each action j, PREPARE+2j drained_begin and
   PREPARE+2j+1 poll until node j is quiet; then COMMIT+j; then CLEAN+j; then DONE. */
#define PREPARE 1
#define COMMIT (PREPARE + 2 * D)
#define CLEAN (COMMIT + D)
#define DONE_PC (CLEAN + D)

/* The invariants' names, each a constant 0 written into its own assertions, so that pan's
   "assertion violated (I5||...)" says which one broke (never assigned: they add no states). */
byte I1, I5, I6, I10;
#define check(name, cond) assert(name || (cond))

/* ---- The state: the baseline's State, field by field. ---- */
byte stage[WRITES];           /* per write: UNSENT .. DONE */
short target[WRITES] = -1;    /* per write: the node it went to (D + j: drive j's overlay), -1 before */
byte allocating[D];           /* per drive: allocating writes in flight */
bool timerArmed[D];           /* per drive: qed's need-check timer armed */
byte timerWork[D];            /* per drive: the timer's flush: 0 none, 1 in the host, 2 host done */
bool drained[D];              /* per drive: inside its drained section (quiesce > 0) */
bool appended[D];             /* per drive: overlay appended (later writes of the drive go there) */
int pointInTime[D] = -1;         /* per drive: the writes its point in time holds (bitmask), -1 before */
byte disabled;                /* the context's external-disable counter */
byte pc;                      /* the main thread's program counter */

/* Derived: writes in the host or completed by the host (not yet through their bottom half),
   on node j (j < D), and on any node; drives whose timer work is in flight. */
byte inHostOn[D];
byte inHost;
byte timerBusy;

/* Scratch for one d_step, set back to 0 before the d_step ends, so that it adds no states.
   (Not `hidden`: pan's breadth-first search refuses hidden variables.) */
byte k, j_, node_;
int held;

/* Node j is quiet: nothing of it in flight (what the drain's poll loop waits for). */
#define quiet(j) (allocating[j] == 0 && timerWork[j] == 0 && inHostOn[j] == 0)
/* Nothing in flight anywhere (what bdrv_drain_all waits for). */
#define allQuiet (inHost == 0 && timerBusy == 0)
/* aio_dispatch runs the NBD socket's handler: always without gating or when NBD's handlers are
   not external, otherwise only while the context's external handlers are enabled. */
#define externalAllowed (EXTERNAL_GATING == 0 || NBD_EXTERNAL == 0 || disabled == 0)

/* One write: its stages in order, one step each. */
active [WRITES] proctype Write() {
  byte w = _pid;   /* the Write processes are the first WRITES processes: pids 0 .. WRITES-1 */
  /* The guest: the client sends the write (the socket becomes readable). */
  d_step { stage[w] = READY };
  /* The context (whoever holds it): aio_dispatch of the readable socket, nbd_trip submits the
     write to the drive, or to its overlay once the overlay is appended. */
  d_step {
    externalAllowed ->
    if
    :: appended[driveOf(w)] -> node_ = D + driveOf(w)
    :: else -> node_ = driveOf(w)
    fi;
    /* I1: no external handler dispatched while the external handlers are disabled. */
    check(I1, !(NBD_EXTERNAL && disabled > 0));
    /* I5: no external request submitted to a node inside its drained section. */
    if
    :: node_ < D -> check(I5, !drained[node_])
    :: else
    fi;
    stage[w] = IN_HOST;
    target[w] = node_;
    inHost++;
    if
    :: node_ < D ->
       allocating[node_]++;
       inHostOn[node_]++;
       timerArmed[node_] = false   /* qed: a new allocating write cancels the need-check timer */
    :: else                        /* the overlay: no qed timer there */
    fi;
    node_ = 0
  };
  /* The host completes the request (in any order with the others). */
  d_step { stage[w] = HOST_DONE };
  /* The context: the request's completion bottom half. */
  d_step {
    stage[w] = DONE;
    inHost--;
    if
    :: target[w] < D ->
       allocating[target[w]]--;
       inHostOn[target[w]]--;
       if
       :: allocating[target[w]] == 0 -> timerArmed[target[w]] = true   /* qed_aio_complete arms the timer */
       :: else
       fi
    :: else
    fi
  };
end_done:
  false   /* the write is done: a valid end (blocking here rather than terminating adds no step) */
}

/* Drive j's qed need-check timer and the flush it issues. */
active [D] proctype QedTimer() {
  byte j = _pid - WRITES;   /* pids WRITES .. WRITES+D-1 */
end_timer:
  do
  /* Time passes: the armed timer fires; its work is a flush the driver issues to the host. */
  :: d_step {
       timerArmed[j] && timerWork[j] == 0 ->
       /* I6 (judged with JUDGE_I6=1): no driver-timer work issued on a node inside its section. */
       check(I6, !(JUDGE_I6 && drained[j]));
       timerArmed[j] = false;
       timerWork[j] = 1;
       timerBusy++
     }
  /* The host completes the flush. */
  :: d_step { timerWork[j] == 1 -> timerWork[j] = 2 }
  /* The context: the flush's completion bottom half. */
  :: d_step { timerWork[j] == 2 -> timerWork[j] = 0; timerBusy-- }
  od
}

/* The main thread: qmp_transaction in 2015 order, one step per program counter value. */
active proctype Main() {
  do
  /* bdrv_drain_all: poll until nothing is in flight anywhere. */
  :: d_step { pc == 0 && allQuiet -> pc++ }
  /* prepare, action j: bdrv_drained_begin: the node is drained, the external handlers are
     disabled, then qed's drain hook runs a pending timer's work now. */
  :: d_step {
       pc >= PREPARE && pc < COMMIT && (pc - PREPARE) % 2 == 0 ->
       j_ = (pc - PREPARE) / 2;
       if
       :: TRANSACTION_DRAINS ->
          drained[j_] = true;
          disabled++;
          if
          :: QED_DRAIN_HOOK && timerArmed[j_] ->
             timerArmed[j_] = false;
             if
             :: timerWork[j_] == 0 -> timerBusy++
             :: else
             fi;
             timerWork[j_] = 1
          :: else
          fi
       :: else
       fi;
       pc++;
       j_ = 0
     }
  /* prepare, action j: the drain's poll loop returns once node j is quiet. */
  :: d_step {
       pc >= PREPARE && pc < COMMIT && (pc - PREPARE) % 2 == 1 &&
       (TRANSACTION_DRAINS == 0 || quiet((pc - PREPARE) / 2)) ->
       pc++
     }
  /* commit, action j: the point in time holds the writes done on drive j; a write of the
     drive still in flight breaks the consistent cut (I10). Then the overlay is appended. */
  :: d_step {
       pc >= COMMIT && pc < CLEAN ->
       j_ = pc - COMMIT;
       held = 0;
       k = 0;
       do
       :: k < WRITES ->
          if
          :: target[k] == j_ && stage[k] == DONE -> held = held | (1 << k)
          :: else
          fi;
          k++
       :: else -> break
       od;
       check(I10, inHostOn[j_] == 0);
       pointInTime[j_] = held;
       appended[j_] = true;
       pc++;
       j_ = 0; k = 0; held = 0
     }
  /* clean, action j: bdrv_drained_end (all but the last action). */
  :: d_step {
       pc >= CLEAN && pc < DONE_PC - 1 ->
       if
       :: TRANSACTION_DRAINS -> drained[pc - CLEAN] = false; disabled--
       :: else
       fi;
       pc++
     }
  /* clean, the last action: then the transaction is over. */
  :: d_step {
       pc == DONE_PC - 1 ->
       if
       :: TRANSACTION_DRAINS -> drained[pc - CLEAN] = false; disabled--
       :: else
       fi;
       pc++
     };
     break
  od;
end_transaction:
  false   /* the transaction is over: a valid end */
}
