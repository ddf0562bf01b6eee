import { ApiError, api, type TaskLine, type TaskRecord } from './api';

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

/** The request as the user wrote it; the API alone validates it, so its own message is what shows. */
function generateRequest(): Record<string, unknown> {
  const body: Record<string, unknown> = {
    prompt: ui.prompt.value,
    model: ui.model.value,
    aspectRatio: ui.aspectRatio.value,
  };
  if (ui.generationType.value) body.generationType = ui.generationType.value;
  const seed = ui.seed.value.trim();
  if (seed) body.seeds = /^-?\d+$/.test(seed) ? Number(seed) : seed;
  if (ui.watermark.value.trim()) body.watermark = ui.watermark.value;
  const imageUrls = ui.imageUrls.value
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  if (imageUrls.length > 0) body.imageUrls = imageUrls;
  return body;
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
  renderElapsed();
  ui.fail.hidden = record.failMsg === null;
  ui.fail.textContent = record.failMsg === null ? '' : `${record.errorCode ?? ''}: ${record.failMsg}`;

  const result = record.successFlag === 1 ? record.response : null;
  const resultUrl = result?.resultUrls[0];
  // Only a finished video has a player and renditions to ask for: not while waiting, not after a failure.
  ui.renditionActions.hidden = !resultUrl;
  ui.request1080p.hidden = record.aspectRatio !== '16:9';
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

const saved = sessionStorage.getItem(keyItem);
if (saved) {
  ui.key.value = saved;
  void refreshList();
  void refreshCredits();
}
