// Every step definition, the world, the parameter types and the report hooks: what `exitpath test`
// loads, and what a project's own cucumber configuration loads with `require('exitpath/steps')`.
// The order is docs/steps.md's: the machine and the guest's actions first, then what is checked.

import './support/world';
import './support/parameter-types';
import './support/hooks';
import './support/trace_dump';
import './vm.steps';
import './guest.steps';
import './workload.steps';
import './buffered.steps';
import './smp.steps';
import './events.steps';
import './faults.steps';
import './hostile.steps';
import './compare.steps';
import './exits.steps';
import './result.steps';
import './walk.steps';
import './host.steps';
import './costs.steps';
import './report.steps';
import './cli.steps';
import './ext2.steps';
import './host_trace.steps';
