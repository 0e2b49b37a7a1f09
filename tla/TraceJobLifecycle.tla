------------------------- MODULE TraceJobLifecycle -------------------------
(***************************************************************************)
(* Trace validation: is a simulator run (an NDJSON trace written by        *)
(* `jobsim trace`, package tla/tracegen) a behaviour of JobLifecycle?      *)
(* In the style of etcd-io/raft's Traceetcdraft.tla: the trace is read     *)
(* with the Json module's ndJsonDeserialize, its first line gives the      *)
(* CONSTANTS, and each step of the spec consumes the trace lines it        *)
(* explains:                                                               *)
(*   - a command line (verb, drain, monitor) is matched by the spec action *)
(*     of that command, or, when the simulator refused it, by no change    *)
(*     and exactly QEMU's error text; it may bring the trigger lines of    *)
(*     the status changes it caused;                                       *)
(*   - trigger lines without a command are matched by internal steps       *)
(*     (pause point, ready, run done, exit, transaction abort turns) or by *)
(*     create and start; a step that changes no status (a run returning,   *)
(*     an error-policy stop) consumes no line.                             *)
(* A group of trigger lines matches a step when, for every job, its lines  *)
(* form a path of table edges from the job's status before the step to     *)
(* its status after it (jobs without lines keep their status).             *)
(* TLC reports TraceMatched violated when it reached the end of the trace: *)
(* that is acceptance (tla/check.sh inverts it).                          *)
(***************************************************************************)
EXTENDS JobLifecycle, Json, Sequences, TLC

CONSTANT TraceFile

Trace == ndJsonDeserialize(TraceFile)
Hdr == Trace[1]
SetOf(s) == {s[i] : i \in DOMAIN s}

\* The CONSTANTS of JobLifecycle, from the header (substituted in the .cfg).
TraceN == Hdr.n
TraceGrouped == SetOf(Hdr.grouped)
TraceManualFinalize == SetOf(Hdr.manual_finalize)
TraceManualDismiss == SetOf(Hdr.manual_dismiss)
TraceReadyJobs == SetOf(Hdr.ready)
TraceMayFail == SetOf(Hdr.may_fail)
TraceStopOnError == SetOf(Hdr.stop_on_error)
TracePrepareMayFail == SetOf(Hdr.prepare_may_fail)
TraceBitmapJobs == {}
TraceMaxDrains == Hdr.max_drains
TraceNMonitors == Hdr.monitors
\* The QEMU version whose table explains the trace ("7.2", "10.0").
TraceQemuVersion == Hdr.qemu

\* The most trigger lines one step can explain (3 jobs finalized at once).
MaxGroup == 12

VARIABLE l   \* the next trace line to explain
traceVars == <<vars, l>>

JobName(j) == "j" \o ToString(j)
IsTrigger(i) == Trace[i].op = "trigger"
Has(x, f) == f \in DOMAIN x

\* The trigger lines of job j among lines lo..hi.
JobLines(lo, hi, j) ==
    SelectSeq(SubSeq(Trace, lo, hi), LAMBDA x : x.job = JobName(j))

PathOK(seq, a, b) ==
    IF Len(seq) = 0 THEN a = b
    ELSE /\ seq[1].from = a
         /\ seq[Len(seq)].to = b
         /\ \A i \in 1..Len(seq) : Allowed(seq[i].from, seq[i].to)
         /\ \A i \in 1..(Len(seq) - 1) : seq[i].to = seq[i + 1].from

\* Lines lo..hi are trigger lines of known jobs that explain this step.
Explains(lo, hi) ==
    /\ \A i \in lo..hi : IsTrigger(i) /\ \E j \in Jobs : Trace[i].job = JobName(j)
    /\ \A j \in Jobs : PathOK(JobLines(lo, hi, j), status[j], status'[j])

-----------------------------------------------------------------------------
(* Commands *)

VerbErr(id, s, v) ==
    "Job '" \o id \o "' in state '" \o s \o
    "' cannot accept command verb '" \o v \o "'"

\* The error QEMU (and sim) give for verb v on job j, whose QMP id is id,
\* "" when accepted; the checks in QEMU's order.
RefusalAs(v, j, force, id) ==
    CASE v = "pause" ->
            IF ~Permits(status[j], v) THEN VerbErr(id, status[j], v)
            ELSE IF userPaused[j] THEN "Job is already paused" ELSE ""
      [] v = "resume" ->
            IF ~userPaused[j] THEN "Can't resume a job that was not paused"
            ELSE IF ~Permits(status[j], v) THEN VerbErr(id, status[j], v) ELSE ""
      [] v = "cancel" ->
            IF ~force /\ userPaused[j]
            THEN "The block job for device '" \o id \o "' is currently paused"
            ELSE IF ~Permits(status[j], v) THEN VerbErr(id, status[j], v) ELSE ""
      [] v = "complete" ->
            IF ~Permits(status[j], v) THEN VerbErr(id, status[j], v)
            ELSE IF cancelled[j] THEN "The active block job '" \o id \o "' cannot be completed"
            ELSE ""
      [] v \in {"finalize", "dismiss", "set-speed", "change"} ->
            IF ~Permits(status[j], v) THEN VerbErr(id, status[j], v) ELSE ""

\* In a simulator trace the QMP id is the spec's job name.
Refusal(v, j, force) == RefusalAs(v, j, force, JobName(j))

VerbAction(v, j, force) ==
    CASE v = "pause" -> Pause(j)
      [] v = "resume" -> Resume(j)
      [] v = "cancel" -> Cancel(j, force)
      [] v = "complete" -> Complete(j)
      [] v = "finalize" -> Finalize(j)
      [] v = "dismiss" -> Dismiss(j)
      [] v \in {"set-speed", "change"} -> ~Blocked /\ UNCHANGED vars

Command(x) ==
    CASE x.op = "verb" ->
            \E j \in Jobs :
               /\ x.job = JobName(j)
               /\ x.from = status[j]
               /\ LET force == Has(x, "force") /\ x.force
                      err == Refusal(x.verb, j, force)
                  IN IF err = "" THEN ~Has(x, "err") /\ VerbAction(x.verb, j, force)
                     ELSE /\ Has(x, "err") /\ x.err = err
                          /\ ~Blocked /\ UNCHANGED vars
      [] x.op = "drain" ->
            \E j \in Jobs :
               /\ x.job = JobName(j)
               /\ IF x.action = "begin" THEN DrainBegin(j) ELSE DrainEnd(j)
      [] x.op = "monitor" ->
            \E m \in Monitors :
               /\ x.mon = m
               /\ IF x.action = "disconnect" THEN Disconnect(m)
                  ELSE IF x.action = "connect" THEN Connect(m)
                  ELSE /\ x.action = "query"
                       /\ \A j \in Jobs : seen[m][j] = x.seen[JobName(j)]
                       /\ Query(m)
      [] OTHER -> FALSE

-----------------------------------------------------------------------------

TraceInit ==
    /\ Trace[1].op = "config"
    /\ Init
    /\ l = 2

CommandStep ==
    /\ l <= Len(Trace)
    /\ ~IsTrigger(l)
    /\ \E k \in 0..MaxGroup :
         /\ l + k <= Len(Trace)
         /\ Command(Trace[l])
         /\ Explains(l + 1, l + k)
         /\ l' = l + 1 + k

InternalStep ==
    /\ \E k \in 0..MaxGroup :
         /\ l + k - 1 <= Len(Trace)
         /\ \/ \E j \in Jobs : Create(j) \/ Start(j) \/ JobStep(j)
            \/ \E t \in Txns : AbortNext(t)
         /\ Explains(l, l + k - 1)
         /\ l' = l + k

TraceNext == CommandStep \/ InternalStep

TraceSpec == TraceInit /\ [][TraceNext]_traceVars

\* Violated exactly when every line has been explained: the trace is accepted.
TraceMatched == l <= Len(Trace)

=============================================================================
