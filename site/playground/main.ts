import { ApiError, api, type TaskLine, type TaskRecord } from './api';
import { type Choices, isUpstreamShape, refusal, refusedChoices, type SelectControl } from './choices';

/**
 * The playground: paste a key, submit a generation, watch record-info until the video plays, and pick
 * earlier tasks from the listing. Plain DOM, text set through textContent only (prompts are user text).
 */

/** The one place the key is kept: this tab's session storage, gone when the tab closes. */
const keyItem = 'veo-playground-api-key';
const pollMs = 1000;

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

const ui = {
  key: byId<HTMLInputElement>('api-key'),
  forget: byId<HTMLButtonElement>('forget-key'),
  credits: byId<HTMLElement>('credits'),
  form: byId<HTMLFormElement>('generate-form'),
  prompt: byId<HTMLTextAreaElement>('prompt'),
  model: byId<HTMLSelectElement>('model'),
  aspectRatio: byId<HTMLSelectElement>('aspect-ratio'),
  generationType: byId<HTMLSelectElement>('generation-type'),
  resolution: byId<HTMLSelectElement>('resolution'),
  duration: byId<HTMLSelectElement>('duration'),
  sampleCount: byId<HTMLSelectElement>('sample-count'),
  personGeneration: byId<HTMLSelectElement>('person-generation'),
  negativePrompt: byId<HTMLInputElement>('negative-prompt'),
  generateAudio: byId<HTMLInputElement>('generate-audio'),
  capabilities: byId<HTMLElement>('capabilities'),
  seed: byId<HTMLInputElement>('seed'),
  watermark: byId<HTMLInputElement>('watermark'),
  imageUrls: byId<HTMLTextAreaElement>('image-urls'),
  submit: byId<HTMLButtonElement>('submit'),
  error: byId<HTMLElement>('error'),
  task: byId<HTMLElement>('task'),
  taskId: byId<HTMLElement>('task-id'),
  state: byId<HTMLElement>('task-state'),
  flag: byId<HTMLElement>('task-flag'),
  elapsed: byId<HTMLElement>('task-elapsed'),
  taskPrompt: byId<HTMLElement>('task-prompt'),
  asked: byId<HTMLElement>('task-asked'),
  fail: byId<HTMLElement>('task-fail'),
  progress: byId<HTMLElement>('task-progress'),
  progressText: byId<HTMLElement>('task-progress-text'),
  video: byId<HTMLVideoElement>('video'),
  downloads: byId<HTMLUListElement>('downloads'),
  renditionActions: byId<HTMLElement>('rendition-actions'),
  request1080p: byId<HTMLButtonElement>('request-1080p'),
  request4k: byId<HTMLButtonElement>('request-4k'),
  refresh: byId<HTMLButtonElement>('refresh'),
  list: byId<HTMLUListElement>('task-list'),
};

const currentKey = (): string => ui.key.value.trim();

function showError(error: unknown): void {
  showMessage(
    error instanceof ApiError
      ? `${error.code}: ${error.message}`
      : `Could not reach the API: ${error instanceof Error ? error.message : String(error)}`,
  );
}

function showMessage(text: string): void {
  ui.error.textContent = text;
  ui.error.hidden = false;
}

function clearError(): void {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

/** The key, or undefined after telling the user one is needed. */
function requireKey(): string | undefined {
  const key = currentKey();
  if (key) return key;
  showMessage('Paste your API key first (npm start prints it as "API key").');
  ui.key.focus();
  return undefined;
}

function imageUrls(): string[] {
  return ui.imageUrls.value
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}

/**
 * The request as the user wrote it; the API alone validates it, so its own message is what shows.
 * Resolution and duration are always sent (as kie's clients do); the other options only when changed.
 */
function generateRequest(): Record<string, unknown> {
  const body: Record<string, unknown> = {
    prompt: ui.prompt.value,
    model: ui.model.value,
    aspectRatio: ui.aspectRatio.value,
    resolution: ui.resolution.value,
    duration: Number(ui.duration.value),
  };
  if (ui.generationType.value) body.generationType = ui.generationType.value;
  if (!ui.generateAudio.checked) body.generateAudio = false;
  if (ui.negativePrompt.value.trim()) body.negativePrompt = ui.negativePrompt.value;
  if (ui.personGeneration.value) body.personGeneration = ui.personGeneration.value;
  if (ui.sampleCount.value !== '1') body.sampleCount = Number(ui.sampleCount.value);
  const seed = ui.seed.value.trim();
  if (seed) body.seeds = /^-?\d+$/.test(seed) ? Number(seed) : seed;
  if (ui.watermark.value.trim()) body.watermark = ui.watermark.value;
  const images = imageUrls();
  if (images.length > 0) body.imageUrls = images;
  return body;
}

/** The deployment's upstream, once GET /api/v1/capabilities.json has said it; undefined: offer everything. */
let upstream: string | undefined;

const selects: Record<SelectControl, HTMLSelectElement> = {
  model: ui.model,
  generationType: ui.generationType,
  aspectRatio: ui.aspectRatio,
  resolution: ui.resolution,
  duration: ui.duration,
  sampleCount: ui.sampleCount,
  personGeneration: ui.personGeneration,
};

function choices(): Choices {
  return {
    model: ui.model.value,
    generationType: ui.generationType.value,
    aspectRatio: ui.aspectRatio.value,
    resolution: ui.resolution.value,
    duration: ui.duration.value,
    sampleCount: ui.sampleCount.value,
    personGeneration: ui.personGeneration.value,
    negativePrompt: ui.negativePrompt.value,
    generateAudio: ui.generateAudio.checked,
    imageCount: imageUrls().length,
  };
}

/**
 * Greys out what the upstream cannot honour with the other choices as they stand (the reason in the
 * option's title), so every choice left leads to a request it accepts. When the choices already stand
 * refused (e.g. images typed in), nothing is greyed out and the reason is shown instead.
 */
function offerWhatTheUpstreamCanDo(): void {
  if (!isUpstreamShape(upstream)) return;
  const chosen = choices();
  const now = refusal(chosen, upstream);
  const refused = refusedChoices(chosen, upstream);
  for (const [control, select] of Object.entries(selects) as [SelectControl, HTMLSelectElement][]) {
    for (const option of select.options) {
      const why = now ? undefined : refused.selects[control].get(option.value);
      option.disabled = why !== undefined;
      option.title = why ?? '';
    }
  }
  const audioWhy = now || ui.generateAudio.checked === false ? undefined : refused.audioOff;
  ui.generateAudio.disabled = audioWhy !== undefined;
  ui.generateAudio.title = audioWhy ?? '';
  const negativeWhy = now ? undefined : refused.negativePrompt;
  ui.negativePrompt.disabled = negativeWhy !== undefined;
  ui.negativePrompt.title = negativeWhy ?? '';
  ui.capabilities.textContent = now
    ? `The upstream (${upstream}) would refuse this: ${now}`
    : `Upstream: ${upstream}. Greyed-out choices are ones it cannot honour with the others as chosen (hover for why).`;
}

async function loadCapabilities(): Promise<void> {
  try {
    const response = await fetch('/api/v1/capabilities.json', { cache: 'no-store' });
    const served = (await response.json()) as { upstream?: unknown; models?: unknown };
    upstream = typeof served.upstream === 'string' ? served.upstream : undefined;
    if (isUpstreamShape(upstream)) offerWhatTheUpstreamCanDo();
    else ui.capabilities.textContent = `Upstream: ${upstream ?? 'unknown'} (every choice is offered).`;
  } catch (error) {
    ui.capabilities.textContent = `Could not read what the upstream can do: ${error instanceof Error ? error.message : String(error)}`;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
const flagNames = ['0 generating', '1 success', '2 failed', '3 rejected by the upstream'];

/** Each follow() gets a ticket; a newer one stops the older loop. */
let following = 0;
let shown: TaskRecord | undefined;

/** Since when the page has been waiting, for the progress line before the first record arrives. */
let waitingSince = Date.now();

function renderElapsed(): void {
  if (shown) ui.elapsed.textContent = seconds((shown.completeTime ?? Date.now()) - shown.createTime);
  if (ui.progress.hidden) return;
  const since = shown && shown.successFlag === 0 ? shown.createTime : waitingSince;
  ui.progressText.textContent = `${progressLabel(shown)}… ${seconds(Date.now() - since)}`;
}

function progressLabel(record: TaskRecord | undefined): string {
  if (!record) return 'Submitted';
  if (record.successFlag === 0) return 'Generating the video';
  const making = (record.renditions ?? []).filter((r) => r.status === 'processing');
  return `Making the ${making.map((r) => r.resolution).join(' and ')} rendition`;
}

function link(label: string, href: string): HTMLLIElement {
  const item = document.createElement('li');
  const anchor = document.createElement('a');
  anchor.href = href;
  anchor.textContent = label;
  anchor.target = '_blank';
  anchor.rel = 'noopener noreferrer';
  item.append(anchor);
  return item;
}

function note(text: string): HTMLLIElement {
  const item = document.createElement('li');
  item.textContent = text;
  return item;
}

function renderRecord(record: TaskRecord): void {
  shown = record;
  ui.taskId.textContent = record.taskId;
  ui.state.textContent = record.state;
  ui.state.className = `state-${record.state}`;
  ui.flag.textContent = flagNames[record.successFlag] ?? String(record.successFlag);
  ui.taskPrompt.textContent = record.promptSent ?? '';
  ui.asked.textContent = askedText(record);
  renderElapsed();
  ui.fail.hidden = record.failMsg === null;
  ui.fail.textContent = record.failMsg === null ? '' : `${record.errorCode ?? ''}: ${record.failMsg}`;

  const result = record.successFlag === 1 ? record.response : null;
  const resultUrl = result?.resultUrls[0];
  // Only a finished video has a player and renditions to ask for: not while waiting, not after a failure.
  ui.renditionActions.hidden = !resultUrl;
  // A task made at 1080p or 4K already is that file: only a higher rendition is worth asking for.
  ui.request1080p.hidden = record.resolution === '1080p' || record.resolution === '4k';
  ui.request4k.hidden = record.resolution === '4k';
  ui.video.hidden = !resultUrl;
  if (!result) {
    ui.downloads.replaceChildren();
    return;
  }
  // record-info signs the URLs anew on every read: set the player's source once, or it would restart.
  if (resultUrl && ui.video.dataset.taskId !== record.taskId) {
    ui.video.dataset.taskId = record.taskId;
    ui.video.src = resultUrl;
  }
  const items: HTMLLIElement[] = [];
  if (resultUrl) items.push(link(`Result (${result.resolution})`, resultUrl));
  const origin = result.originUrls[0];
  // The original is the same file unless a watermark was stamped on the result.
  if (origin) items.push(link(origin === resultUrl ? 'Original' : 'Original (no watermark)', origin));
  const full = result.fullResultUrls?.[0];
  if (full) items.push(link('Full extended video', full));
  for (const rendition of record.renditions ?? []) {
    const name = rendition.resolution.toUpperCase().replace('P', 'p');
    if (rendition.resultUrl) items.push(link(name, rendition.resultUrl));
    else items.push(note(`${name}: ${rendition.status}…`));
  }
  ui.downloads.replaceChildren(...items);
}

function askedText(record: TaskRecord): string {
  const facts = [
    record.resolution,
    `${record.duration} s`,
    record.generateAudio ? 'audio' : 'no audio',
    record.sampleCount === 1 ? '1 video' : `${record.sampleCount} videos`,
    record.aspectRatio,
  ];
  if (record.notApplied.length > 0) facts.push(`not applied here: ${record.notApplied.join(', ')}`);
  return facts.filter(Boolean).join(' · ');
}

const pending = (record: TaskRecord) =>
  record.successFlag === 0 || (record.renditions ?? []).some((r) => r.status === 'processing');

/** Polls record-info until the task (and any rendition asked for) has ended. */
async function follow(taskId: string): Promise<void> {
  const key = requireKey();
  if (!key) return;
  const ticket = ++following;
  if (ui.video.dataset.taskId !== taskId) {
    ui.video.removeAttribute('src');
    delete ui.video.dataset.taskId;
    ui.video.hidden = true;
    ui.video.load();
    ui.downloads.replaceChildren();
    shown = undefined;
  }
  ui.task.hidden = false;
  ui.taskId.textContent = taskId;
  ui.state.textContent = 'submitted';
  waitingSince = Date.now();
  ui.progress.hidden = false;
  const timer = setInterval(renderElapsed, 100);
  try {
    for (;;) {
      const record = await api.record(key, taskId);
      if (ticket !== following) return;
      ui.progress.hidden = !pending(record);
      renderRecord(record);
      if (!pending(record)) break;
      await sleep(pollMs);
      if (ticket !== following) return;
    }
    void refreshList();
    void refreshCredits();
  } catch (error) {
    if (ticket === following) {
      ui.progress.hidden = true;
      showError(error);
    }
  } finally {
    clearInterval(timer);
  }
}

function thumbnail(task: TaskLine): HTMLElement {
  const url = task.resultUrls?.[0];
  if (!url) {
    const placeholder = document.createElement('div');
    placeholder.className = 'placeholder';
    placeholder.textContent = task.state === 'waiting' ? 'generating…' : 'no video';
    return placeholder;
  }
  const video = document.createElement('video');
  video.muted = true;
  video.preload = 'metadata';
  video.controls = true;
  // A media fragment makes the player show a frame instead of black; it is never sent to the server.
  video.src = `${url}#t=0.5`;
  return video;
}

function taskItem(task: TaskLine): HTMLLIElement {
  const item = document.createElement('li');
  item.dataset.taskId = task.taskId;
  const text = document.createElement('div');
  const prompt = document.createElement('div');
  prompt.textContent = task.prompt.length > 120 ? `${task.prompt.slice(0, 120)}…` : task.prompt;
  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.textContent = [
    task.taskId,
    task.model,
    task.aspectRatio,
    new Date(task.createTime).toLocaleString(),
    task.failMsg ?? '',
  ]
    .filter(Boolean)
    .join(' · ');
  text.append(prompt, meta);
  const side = document.createElement('div');
  const state = document.createElement('span');
  state.className = `state state-${task.state}`;
  state.textContent = task.state;
  const open = document.createElement('button');
  open.type = 'button';
  open.textContent = 'Open';
  open.addEventListener('click', () => {
    clearError();
    void follow(task.taskId);
  });
  side.append(state, document.createTextNode(' '), open);
  item.append(thumbnail(task), text, side);
  return item;
}

async function refreshList(): Promise<void> {
  const key = currentKey();
  if (!key) {
    ui.list.replaceChildren();
    return;
  }
  try {
    const { tasks } = await api.tasks(key, 10);
    ui.list.replaceChildren(...tasks.map(taskItem));
    if (tasks.length === 0) ui.list.replaceChildren(note('No tasks yet for this key.'));
  } catch (error) {
    showError(error);
  }
}

async function refreshCredits(): Promise<void> {
  const key = currentKey();
  if (!key) {
    ui.credits.textContent = '–';
    return;
  }
  try {
    ui.credits.textContent = String(await api.credit(key));
  } catch (error) {
    ui.credits.textContent = '–';
    showError(error);
  }
}

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  clearError();
  const key = requireKey();
  if (!key) return;
  ui.submit.disabled = true;
  api
    .generate(key, generateRequest())
    .then(({ taskId }) => {
      void follow(taskId);
      void refreshList();
      void refreshCredits();
    }, showError)
    .finally(() => {
      ui.submit.disabled = false;
    });
});

ui.form.addEventListener('change', offerWhatTheUpstreamCanDo);
ui.form.addEventListener('input', offerWhatTheUpstreamCanDo);

ui.key.addEventListener('input', () => {
  const key = currentKey();
  if (key) sessionStorage.setItem(keyItem, key);
  else sessionStorage.removeItem(keyItem);
});

ui.key.addEventListener('change', () => {
  clearError();
  void refreshList();
  void refreshCredits();
});

ui.forget.addEventListener('click', () => {
  sessionStorage.removeItem(keyItem);
  ui.key.value = '';
  ui.credits.textContent = '–';
  ui.list.replaceChildren();
});

ui.refresh.addEventListener('click', () => {
  clearError();
  void refreshList();
});

/** 1080p answers 400 while it is being made, so both renditions are followed through record-info. */
async function requestRendition(request: (key: string, taskId: string) => Promise<unknown>): Promise<void> {
  const key = requireKey();
  if (!key || !shown) return;
  const { taskId } = shown;
  clearError();
  try {
    await request(key, taskId);
  } catch (error) {
    if (!(error instanceof ApiError && error.code === 400)) showError(error);
  }
  void follow(taskId);
}

ui.request1080p.addEventListener('click', () => void requestRendition(api.get1080p));
ui.request4k.addEventListener('click', () => void requestRendition(api.get4k));

void loadCapabilities();

const saved = sessionStorage.getItem(keyItem);
if (saved) {
  ui.key.value = saved;
  void refreshList();
  void refreshCredits();
}
