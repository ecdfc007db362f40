#!/usr/bin/env node
// Runs telegram-test-api 4.2.1 (unchanged in node_modules) for craftdesk's end-to-end tests,
// behind a small front server that fixes what a real bot (aiogram 3) needs and the package
// lacks. Measured against the stock package:
//   - getMe has no is_bot (aiogram refuses to start)      -> answered here
//   - callback updates have no chat_instance (dropped)    -> added to formatUpdate
//   - getUpdates returns at once (the bot spins the CPU)  -> long polling honouring `timeout`
//   - unknown methods are HTTP 500                        -> {ok:false, error_code:404}
//   - sendPhoto & other media, setMyCommands, sendChatAction, getFile, files: missing
//                                                         -> stubs (files: a 1x1 PNG)
//   - a user-side request without botToken crashes it     -> 400, and rejections are logged
//   - `port: 0` silently becomes 9000                     -> our own listener on any port
//   - webhooks are posted without the secret token        -> sent as setWebhook gave it
//   - sent messages echo the request's fields (e.g. link_preview_options as a JSON string,
//     which aiogram cannot read) and lack `from`          -> request-only fields dropped
// Usage: node launch.js [--port 0] [--host 127.0.0.1] [--username CraftdeskTestBot]
// Prints one JSON line {"ready": true, "port": N} on stdout once it listens.
'use strict';

const http = require('http');
const TelegramServer = require('telegram-test-api');

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) => (
  arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []));
const HOST = args.host || '127.0.0.1';
const PORT = Number(args.port || 0);
const USERNAME = args.username || 'CraftdeskTestBot';
const MAX_POLL_SECONDS = 50;
const USER_EVENTS = ['AddedUserMessage', 'AddedUserCommand', 'AddedUserCallbackQuery'];
// the bot methods the package itself implements (its routes/bot/*.js)
const NATIVE = new Set(['deleteMessage', 'getUpdates', 'answerCallbackQuery', 'getMe', 'editMessageText',
  'editMessageReplyMarkup', 'sendMessage', 'setWebhook', 'deleteWebhook']);
const MEDIA = ['photo', 'document', 'video', 'audio', 'voice', 'animation', 'sticker'];
const ACCEPTED = new Set(['setMyCommands', 'deleteMyCommands', 'sendChatAction', 'setChatMenuButton',
  'setMyDescription', 'setMyShortDescription', 'close', 'logOut']);
const PNG_1X1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64');

process.on('unhandledRejection', (error) => console.error('emulator: unhandled rejection:', error));

const server = new TelegramServer({ port: 1, host: HOST }); // the port is ours, see listen()
const inner = server.webServer;

// ---- patches of the package's own behaviour -----------------------------------------------

const formatUpdate = TelegramServer.formatUpdate;
TelegramServer.formatUpdate = (update) => {
  const formatted = formatUpdate(update);
  const query = formatted.callback_query;
  if (query && !query.chat_instance) {
    query.chat_instance = String(query.message && query.message.chat ? query.message.chat.id : query.from.id);
  }
  return formatted;
};

server.addUserUpdate = async function addUserUpdate(update) {
  const hook = this.webhooks[update.botToken];
  if (!hook) {
    this.storage.userMessages.push(update);
    this.updateId++;
    return;
  }
  this.updateId++;
  const headers = { 'content-type': 'application/json' };
  if (hook.secret_token) headers['X-Telegram-Bot-Api-Secret-Token'] = hook.secret_token;
  const response = await fetch(hook.url, {
    method: 'POST', headers, body: JSON.stringify(TelegramServer.formatUpdate(update)),
  });
  if (!response.ok) throw new Error(`webhook answered HTTP ${response.status}`);
};

const REQUEST_ONLY = ['chat_id', 'parse_mode', 'link_preview_options', 'disable_web_page_preview',
  'reply_parameters', 'reply_to_message_id', 'allow_sending_without_reply', 'disable_notification',
  'protect_content', 'caption_entities_json', 'show_caption_above_media', 'allow_paid_broadcast'];
const addBotMessage = server.addBotMessage.bind(server);
server.addBotMessage = (raw, token) => {
  const message = addBotMessage(raw, token);
  REQUEST_ONLY.forEach((field) => delete message[field]);
  message.from = { id: Number(token.split(':')[0]), is_bot: true, first_name: 'craftdesk test bot', username: USERNAME };
  return message;
};

// ---- request helpers ------------------------------------------------------------------------

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseMultipart(body, boundary) {
  const fields = {};
  const text = body.toString('latin1');
  for (const part of text.split(`--${boundary}`)) {
    const split = part.indexOf('\r\n\r\n');
    if (split < 0) continue;
    const head = part.slice(0, split);
    const name = /name="([^"]*)"/i.exec(head);
    if (!name) continue;
    const value = part.slice(split + 4).replace(/\r\n$/, '');
    fields[name[1]] = /filename="/i.test(head) ? { upload: true, size: value.length }
      : Buffer.from(value, 'latin1').toString('utf8');
  }
  return fields;
}

async function parseBody(req) {
  const url = new URL(req.url, 'http://emulator');
  const fields = Object.fromEntries(url.searchParams);
  const body = await readBody(req);
  const type = req.headers['content-type'] || '';
  if (!body.length) return fields;
  if (type.startsWith('application/json')) return { ...fields, ...JSON.parse(body.toString('utf8')) };
  if (type.startsWith('application/x-www-form-urlencoded')) {
    return { ...fields, ...Object.fromEntries(new URLSearchParams(body.toString('utf8'))) };
  }
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(type);
  if (type.startsWith('multipart/form-data') && boundary) {
    return { ...fields, ...parseMultipart(body, boundary[1] || boundary[2]) };
  }
  return fields;
}

function send(res, status, payload) {
  if (res.writableEnded) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(payload));
}

const ok = (res, result) => send(res, 200, { ok: true, result });
const fail = (res, code, description) => send(res, code, { ok: false, error_code: code, description });

// ---- the bot side ---------------------------------------------------------------------------

function unread(token) {
  return server.storage.userMessages.some((u) => u.botToken === token && !u.isRead);
}

function longPoll(token, fields, res) {
  const seconds = Math.min(Number(fields.timeout || 0), MAX_POLL_SECONDS);
  let timer = null;
  const listener = () => { if (unread(token)) answer(); };
  const stop = () => {
    clearTimeout(timer);
    USER_EVENTS.forEach((event) => server.off(event, listener));
  };
  function answer() {
    stop();
    if (!res.writableEnded && !res.destroyed) ok(res, server.getUpdates(token));
  }
  if (unread(token) || seconds <= 0) { answer(); return; }
  USER_EVENTS.forEach((event) => server.on(event, listener));
  timer = setTimeout(answer, seconds * 1000);
  res.on('close', stop); // the bot went away: leave its updates unread
}

function sendMedia(token, method, fields, res) {
  const kind = MEDIA.find((m) => method.toLowerCase() === `send${m}`);
  const file = fields[kind];
  const fileId = typeof file === 'string' ? file : `${kind}-${server.messageId}`;
  const media = kind === 'photo'
    ? [{ file_id: fileId, file_unique_id: fileId, width: 1, height: 1, file_size: PNG_1X1.length }]
    : { file_id: fileId, file_unique_id: fileId, file_size: PNG_1X1.length };
  ok(res, server.addBotMessage({ ...fields, [kind]: media }, token));
}

async function botMethod(req, res, token, method) {
  if (NATIVE.has(method) && !['getMe', 'getUpdates', 'setWebhook'].includes(method)) {
    inner(req, res);
    return;
  }
  const fields = await parseBody(req);
  if (method === 'getMe') {
    ok(res, { id: Number(token.split(':')[0]), is_bot: true, first_name: 'craftdesk test bot', username: USERNAME });
  } else if (method === 'getUpdates') {
    longPoll(token, fields, res);
  } else if (method === 'setWebhook') {
    if (!fields.url) { fail(res, 400, 'Bad Request: url is empty'); return; }
    server.setWebhook({ url: fields.url, secret_token: fields.secret_token }, token);
    ok(res, true);
  } else if (MEDIA.some((m) => method.toLowerCase() === `send${m}`)) {
    sendMedia(token, method, fields, res);
  } else if (method === 'getFile') {
    ok(res, { file_id: fields.file_id, file_unique_id: fields.file_id, file_size: PNG_1X1.length,
      file_path: `photos/${fields.file_id}.png` });
  } else if (ACCEPTED.has(method)) {
    ok(res, true);
  } else {
    fail(res, 404, `Not Found: method ${method} is not emulated`);
  }
}

// ---- the user side --------------------------------------------------------------------------

function commandEntities(text) {
  const end = text.indexOf(' ');
  return [{ offset: 0, length: end < 0 ? text.length : end, type: 'bot_command' }];
}

async function userMethod(req, res, path) {
  let body;
  try {
    body = await parseBody(req);
  } catch (error) {
    fail(res, 400, `Bad Request: ${error.message}`);
    return;
  }
  if (!body.botToken) { fail(res, 400, 'Bad Request: botToken is required'); return; }
  try {
    if (path === '/sendMessage') await server.addUserMessage(body);
    else if (path === '/sendCommand') {
      await server.addUserCommand({ ...body, entities: body.entities || commandEntities(body.text || '') });
    } else await server.addUserCallback(body);
    ok(res, null);
  } catch (error) {
    fail(res, 502, `Bad Gateway: ${error.message}`);
  }
}

const front = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://emulator');
  const bot = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
  const handle = async () => {
    if (bot) await botMethod(req, res, decodeURIComponent(bot[1]), bot[2]);
    else if (/^\/file\/bot[^/]+\//.test(url.pathname)) {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(PNG_1X1);
    } else if (['/sendMessage', '/sendCommand', '/sendCallback'].includes(url.pathname)) {
      await userMethod(req, res, url.pathname);
    } else inner(req, res); // /getUpdates and /getUpdatesHistory of the user side
  };
  handle().catch((error) => {
    console.error('emulator: request failed:', error);
    fail(res, 500, `Internal Server Error: ${error.message}`);
  });
});

front.listen(PORT, HOST, () => {
  process.stdout.write(`${JSON.stringify({ ready: true, port: front.address().port })}\n`);
});
const shutdown = () => process.exit(0);
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
