import type { Coverage } from './types';

/** " on node X" or " on all 3 nodes": where the table's numbers come from. */
export function CoverageWords({ coverage }: { coverage: Coverage }) {
  const all = coverage.nodes.length + coverage.missing.length;
  if (all <= 1) return <> on node {coverage.node}</>;
  return <> on {coverage.missing.length === 0 ? `all ${all} nodes` : `${coverage.nodes.length} of ${all} nodes`}</>;
}

/** Nodes that did not answer in time, said in words: their connections are not counted. */
export function MissingNodes({ coverage }: { coverage: Coverage }) {
  if (coverage.missing.length === 0 && !coverage.partial) return null;
  return (
    <p className="notice">
      {coverage.missing.length > 0 ? `No answer from ${coverage.missing.length === 1 ? 'node' : 'nodes'} ${coverage.missing.join(', ')} in time: their connections are not counted here. ` : ''}
      {coverage.partial ? 'A node holds more than 2,000 of your users: only its most connected are counted.' : ''}
    </p>
  );
}
