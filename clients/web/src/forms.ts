// Reading typed values out of the dashboard's forms.

export function field<T extends Element = HTMLInputElement>(form: HTMLFormElement, name: string): T {
  const found = form.elements.namedItem(name);
  if (found === null || found instanceof RadioNodeList) throw new Error(`form has no single field ${name}`);
  return found as unknown as T;
}

/** "aapl, NVDA  msft" -> ["AAPL", "NVDA", "MSFT"] (upper-cased when `upper`). */
export function list(form: HTMLFormElement, name: string, upper = true): string[] {
  const text = field(form, name).value;
  const items = text.split(/[\s,]+/).filter((item) => item !== "");
  return upper ? items.map((item) => item.toUpperCase()) : items;
}

/** The number typed in, or undefined when empty. A malformed number is left to the server to name. */
export function optionalNumber(form: HTMLFormElement, name: string): number | undefined {
  const text = field(form, name).value.trim();
  return text === "" ? undefined : Number(text);
}

export function checkedNumbers(form: HTMLFormElement, name: string): number[] {
  return [...form.querySelectorAll<HTMLInputElement>(`input[name="${name}"]:checked`)].map((box) => Number(box.value));
}

export function selectedValues(form: HTMLFormElement, name: string): string[] {
  return [...field<HTMLSelectElement>(form, name).selectedOptions].map((option) => option.value);
}

export function setOptions(select: HTMLSelectElement, options: ReadonlyArray<readonly [string, string]>): void {
  const keep = new Set([...select.selectedOptions].map((option) => option.value));
  const fixed = [...select.options].filter((option) => option.value === "");
  select.replaceChildren(...fixed);
  for (const [value, label] of options) {
    const option = new Option(label, value, false, keep.has(value));
    select.add(option);
  }
}
