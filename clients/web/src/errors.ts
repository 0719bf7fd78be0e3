// Shows a failed call where the user acts: each google.rpc.BadRequest field violation next to the form
// control it names, anything else in the form's error line.
import { ConnectError } from "@connectrpc/connect";
import { BadRequestSchema } from "./gen/google/rpc/error_details_pb.js";

export function clearErrors(form: HTMLFormElement): void {
  for (const note of form.querySelectorAll(".field-error")) note.remove();
  for (const control of form.querySelectorAll("[aria-invalid]")) {
    control.removeAttribute("aria-invalid");
    control.removeAttribute("aria-describedby");
  }
  for (const line of form.querySelectorAll<HTMLElement>(".error")) line.textContent = "";
}

/** Show `error` on `form`; returns the message for callers that log it too. */
export function showError(form: HTMLFormElement, error: unknown): string {
  clearErrors(form);
  const connectError = ConnectError.from(error);
  const unplaced: string[] = [];
  for (const detail of connectError.findDetails(BadRequestSchema)) {
    for (const violation of detail.fieldViolations) {
      const control = controlFor(form, violation.field);
      if (control === null) unplaced.push(`${violation.field}: ${violation.description}`);
      else markInvalid(control, violation.description);
    }
  }
  const message = connectError.rawMessage || connectError.message;
  const line = form.querySelector<HTMLElement>(".error");
  if (line !== null) line.textContent = unplaced.length > 0 ? `${message} (${unplaced.join("; ")})` : message;
  return message;
}

/** The control whose name is the violation's last path segment: "filter.min_price" -> min_price. */
function controlFor(form: HTMLFormElement, fieldPath: string): HTMLElement | null {
  const segments = fieldPath.replace(/\[[^\]]*\]/g, "").split(".");
  for (let i = segments.length - 1; i >= 0; i--) {
    const name = segments[i];
    if (name === undefined || name === "") continue;
    const found = form.querySelector<HTMLElement>(`[name="${CSS.escape(name)}"]:not([type="hidden"])`);
    if (found !== null) return found;
  }
  return null;
}

let noteCounter = 0;

function markInvalid(control: HTMLElement, description: string): void {
  const note = document.createElement("span");
  note.className = "field-error";
  note.id = `field-error-${++noteCounter}`;
  note.setAttribute("role", "alert");
  note.textContent = description;
  control.setAttribute("aria-invalid", "true");
  control.setAttribute("aria-describedby", note.id);
  const holder = control.closest("label, fieldset") ?? control;
  holder.insertAdjacentElement("beforeend", note);
}
