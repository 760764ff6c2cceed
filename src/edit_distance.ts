// Edit distance between two sequences (characters of a name, words of a step), with adjacent
// transpositions (optimal string alignment): what tells a misspelling from another name.

/**
 * The cheapest way to turn `a` into `b` by inserting or deleting an item (cost 1), substituting one
 * (`sub(x, y)`, 0 for equal items), or swapping two adjacent ones (cost 1).
 */
export function editDistance<T>(a: ArrayLike<T>, b: ArrayLike<T>, sub: (x: T, y: T) => number = (x, y) => (x === y ? 0 : 1)): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + sub(a[i - 1]!, b[j - 1]!));
      if (i > 1 && j > 1 && sub(a[i - 1]!, b[j - 2]!) === 0 && sub(a[i - 2]!, b[j - 1]!) === 0) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
