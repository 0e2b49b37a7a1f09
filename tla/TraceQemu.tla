----------------------------- MODULE TraceQemu -----------------------------
(***************************************************************************)
(* Trace validation of real QEMU: is what qemu-storage-daemon did in a     *)
(* recorded QMP transcript a behaviour of JobLifecycle?  The transcripts   *)
(* are converted by tla/qemutrace (see its doc.go for the lines); one      *)
(* file holds several traces that share the CONSTANTS, and TLC checks all  *)
(* of them in one run: the initial state picks the trace (tr).            *)
(*                                                                         *)
(* A transcript keeps QEMU's events in order and its responses in order,   *)
(* not how the two interleave, so each trace is two sequences with a       *)
(* cursor each: l over its status events (trigger lines), c over its       *)
(* commands.  A step of the spec consumes the events it explains (for     *)
(* every job, a path of table edges from its status before the step to    *)
(* its status after it, as in TraceJobLifecycle) and, for a command step,  *)
(* the command too, which may only run once the status events its         *)
(* scenario waited for ("after") have been explained.  Internal steps     *)
(* include unobserved drained sections (DrainBegin/DrainEnd): QEMU drains  *)
(* inside many commands (blockdev-add/del, bitmaps, transactions).         *)
(*                                                                         *)
(* A trace is accepted when some reachable state has explained all its     *)
(* lines (done); tla/check.sh reads TLC's state dump for that, per trace   *)
(* (qemutrace.Verdicts): a TLC invariant would stop at the first trace.    *)
(***************************************************************************)
EXTENDS TraceJobLifecycle

NTraces == Hdr.traces
Events == [t \in 1..NTraces |-> SelectSeq(Trace, LAMBDA x : x.op = "trigger" /\ x.t = t)]
Commands == [t \in 1..NTraces |->
               SelectSeq(Trace, LAMBDA x : x.op \in {"create", "verb", "query", "early-fail"} /\ x.t = t)]

VARIABLES
    tr,    \* the trace being checked
    c,     \* its next command to explain (l is its next event)
    done   \* every line of trace tr is explained
qVars == <<vars, l, tr, c, done>>

Gone(s) == s \in {"undefined", "null"}

\* The BLOCK_JOB_* event a job sent before concluded (reference 3.2): none
\* if it never started, else CANCELLED iff force_cancel, else COMPLETED,
\* with an error iff its result is one.
ResultOK(j, r) ==
    CASE r = "none" -> ~started[j]
      [] r = "cancelled" -> started[j] /\ forced'[j]
      [] r = "completed" -> started[j] /\ ~forced'[j] /\ ret'[j] = "ok"
      [] r = "error" -> started[j] /\ ~forced'[j] /\ ret'[j] = "error"

\* Events lo..hi of the trace explain this step: for every job a path of
\* table edges from its status to its new one that visits no status twice.
\* No step of JobLifecycle revisits a status (QEMU sends no event for the
\* aborting -> aborting self-loop), so a paused/running blip is never
\* swallowed by a step that leaves the job where it was.
EventsExplain(lo, hi) ==
    \A j \in Jobs :
        LET s == SelectSeq(SubSeq(Events[tr], lo, hi), LAMBDA x : x.job = JobName(j))
        IN /\ PathOK(s, status[j], status'[j])
           /\ \A i, k \in 1..Len(s) : i <= k => s[i].from # s[k].to
           /\ \A i \in 1..Len(s) : Has(s[i], "result") => ResultOK(j, s[i].result)



\* QEMU's text when the job does not exist (find_job / find_block_job).
NotFound(x) == IF x.api = "job" THEN "Job not found"
               ELSE "Block job '" \o x.id \o "' not found"

Refused(x, err) == /\ Has(x, "err") /\ x.err = err
                   /\ ~Blocked /\ UNCHANGED vars

QVerb(x) ==
    IF ~Has(x, "job") THEN Refused(x, NotFound(x))   \* an id no command created
    ELSE \E j \in Jobs :
        /\ x.job = JobName(j)
        /\ LET force == Has(x, "force") /\ x.force
               err == IF Gone(status[j]) THEN NotFound(x)
                      ELSE RefusalAs(x.verb, j, force, x.id)
           IN IF Has(x, "rollback") THEN Cancel(j, TRUE)
              ELSE IF err = "" THEN ~Has(x, "err") /\ VerbAction(x.verb, j, force)
              ELSE Refused(x, err)

\* A creating command: Create of the first job creates the grouped
\* transaction's members with it; exactly the listed jobs appear.
QCreate(x) ==
    \E j \in Jobs :
        /\ x.jobs[1] = JobName(j)
        /\ Create(j)
        /\ \A k \in Jobs : (status[k] = "undefined" /\ status'[k] = "created")
                             <=> JobName(k) \in SetOf(x.jobs)

\* query-jobs / query-block-jobs: the listed jobs have these statuses, the
\* others do not exist.
QQuery(x) ==
    /\ ~Blocked /\ UNCHANGED vars
    /\ \A j \in Jobs : IF Has(x.jobs, JobName(j)) THEN status[j] = x.jobs[JobName(j)]
                       ELSE Gone(status[j])

\* job_early_fail: a creating command refused an argument after job_create
\* (e.g. a negative speed: block_job_create -> job_set_speed), and the job
\* goes from created straight to null.  JobLifecycle does not model it.
EarlyFail(j) ==
    /\ ~Blocked
    /\ status[j] = "created" /\ ~started[j]
    /\ status' = [status EXCEPT ![j] = Hop(@, "null")]
    /\ UNCHANGED <<started, deferred, userPaused, cancelled, forced, ret, completeReq, graph, bitmap, aborting>>
    /\ StepTail

QCommand(x) ==
    CASE x.op = "verb" -> QVerb(x)
      [] x.op = "early-fail" -> \E j \in Jobs : x.job = JobName(j) /\ EarlyFail(j)
      [] x.op = "create" -> QCreate(x)
      [] x.op = "query" -> QQuery(x)

Finished(l2, c2) == l2 > Len(Events[tr]) /\ c2 > Len(Commands[tr])

QInit ==
    /\ Trace[1].op = "config"
    /\ tr \in 1..NTraces
    /\ Init
    /\ l = 1 /\ c = 1
    /\ done = Finished(1, 1)

\* The step's events: k of them (the spec's action comes first, so that TLC
\* computes each successor once and then tries the k that explain it).
Consume == \E k \in 0..MaxGroup :
               /\ l + k - 1 <= Len(Events[tr])
               /\ EventsExplain(l, l + k - 1)
               /\ l' = l + k

QCommandStep ==
    /\ c <= Len(Commands[tr])
    /\ l - 1 >= Commands[tr][c].after
    /\ QCommand(Commands[tr][c])
    /\ Consume
    /\ c' = c + 1

\* The status job j goes to in its next unexplained event ("" if none).
NextTo(j) ==
    LET idx == {i \in l..Len(Events[tr]) : Events[tr][i].job = JobName(j)}
    IN IF idx = {} THEN "" ELSE Events[tr][CHOOSE i \in idx : \A k \in idx : i <= k].to

\* An unobserved drained section only begins when the job's next event is
\* a pause: a section that ends before the job pauses changes nothing TLC
\* could see, and allowing one everywhere multiplies the states.
QInternalStep ==
    /\ \/ \E j \in Jobs : Start(j) \/ JobStep(j) \/ DrainEnd(j)
          \/ (NextTo(j) \in {"paused", "standby"} /\ DrainBegin(j))
       \/ \E t \in Txns : AbortNext(t)
    /\ Consume
    /\ UNCHANGED c

QNext ==
    /\ ~done
    /\ QCommandStep \/ QInternalStep
    /\ done' = Finished(l', c')
    /\ UNCHANGED tr

QSpec == QInit /\ [][QNext]_qVars
=============================================================================
