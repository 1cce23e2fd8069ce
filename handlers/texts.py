"""Every user-facing text, in English and Russian.

``t(key, locale, **values)`` formats one. Values are user data and are inserted
as is: escaping for HTML / Block Kit is the renderer's job.
"""

from __future__ import annotations

from typing import Any

TEXTS: dict[str, dict[str, str]] = {
    # --- intake forms ---
    "form_question": {
        "en": "{question}\n({step} of {total}; /cancel to stop)",
        "ru": "{question}\n(вопрос {step} из {total}; /cancel — отменить)",
    },
    "form_required": {
        "en": "This one is needed to file the request. {question}",
        "ru": "Без этого ответа заявку не оформить. {question}",
    },
    "form_use_text": {
        "en": "Please type your answer (or /cancel).",
        "ru": "Напишите ответ текстом (или /cancel).",
    },
    "btn_form_skip": {"en": "Skip", "ru": "Пропустить"},
    "card_fields": {"en": "Details:", "ru": "Подробности:"},
    # --- requester flow -------------------------------------------------------
    "suggest_intro": {
        "en": "These articles may answer your question:",
        "ru": "Возможно, ответ есть в этих статьях:",
    },
    "btn_open_ticket": {"en": "Open a ticket", "ru": "Создать заявку"},
    "btn_solved": {"en": "This solved it", "ru": "Это помогло"},
    "btn_still_need": {"en": "Still need help", "ru": "Всё ещё нужна помощь"},
    "deflected": {
        "en": "Glad it helped! Write any time you need something.",
        "ru": "Рады, что помогло! Пишите, если что-то понадобится.",
    },
    "ask_category_guess": {
        "en": "Let's file it. Is this about “{category}”?",
        "ru": "Оформим заявку. Это про «{category}»?",
    },
    "btn_yes_category": {"en": "Yes, {category}", "ru": "Да, {category}"},
    "btn_other_category": {"en": "Another category", "ru": "Другая категория"},
    "ask_category": {"en": "Which category fits best?", "ru": "Выберите категорию:"},
    "ask_priority": {"en": "How urgent is it?", "ru": "Насколько это срочно?"},
    "ask_duplicate": {
        "en": "You already have an open ticket #{n} “{subject}”. Add this to #{n} or open a new one?",
        "ru": "У вас уже есть открытая заявка #{n} «{subject}». Добавить это в #{n} или создать новую?",
    },
    "btn_add_to": {"en": "Add to #{n}", "ru": "Добавить в #{n}"},
    "btn_new_ticket": {"en": "Open a new one", "ru": "Создать новую"},
    "added_to_ticket": {
        "en": "Added to #{n}. We'll keep you posted.",
        "ru": "Добавлено в заявку #{n}. Мы сообщим о результатах.",
    },
    "ticket_created": {
        "en": "#{n} created: {subject}\nTeam: {team} · priority: {priority}\nFirst response due by {due}.",
        "ru": "Заявка #{n} создана: {subject}\nКоманда: {team} · приоритет: {priority}\nПервый ответ — до {due}.",
    },
    "cancelled": {"en": "Cancelled. Nothing was filed.", "ru": "Отменено. Заявка не создана."},
    "nothing_to_cancel": {"en": "There is nothing to cancel.", "ru": "Отменять нечего."},
    # --- conversation routing ---
    "cancelled_draft_kept": {
        "en": "Cancelled. Nothing was filed; your text is kept — send /new to file it.",
        "ru": "Отменено. Заявка не создана; ваш текст сохранён — отправьте /new, чтобы оформить его.",
    },
    "draft_extended": {
        "en": "Added to your request's description. Choose one of the buttons above to go on, or /cancel.",
        "ru": "Добавлено к описанию запроса. Чтобы продолжить, выберите вариант кнопкой выше или отправьте /cancel.",
    },
    "pending_extended": {
        "en": "Added to your message. Choose where it goes with the buttons above, or /cancel.",
        "ru": "Добавлено к вашему сообщению. Выберите кнопкой выше, куда его отправить, или отправьте /cancel.",
    },
    "ask_which_ticket": {
        "en": "Which request is this about?",
        "ru": "К какой заявке это относится?",
    },
    "btn_new_request": {"en": "New request", "ru": "Новый запрос"},
    "offer_reopen": {
        "en": "#{n} “{subject}” is resolved. Reopen it with your message?",
        "ru": "Заявка #{n} «{subject}» решена. Открыть её снова с вашим сообщением?",
    },
    "btn_reopen_n": {"en": "Reopen #{n}", "ru": "Открыть #{n} снова"},
    "thread_closed_new": {
        "en": "#{n} is closed, so this starts a new request.",
        "ru": "Заявка #{n} закрыта, поэтому оформим новый запрос.",
    },
    "chatter_ack": {
        "en": "You're welcome! Write any time you need something.",
        "ru": "Пожалуйста! Пишите, если что-то понадобится.",
    },
    "added_auto": {
        "en": "Added to #{n}. Something new? Tap below or send /new.",
        "ru": "Добавлено в заявку #{n}. Это новый вопрос? Нажмите кнопку ниже или отправьте /new.",
    },
    "btn_this_is_new": {"en": "This is a new request", "ru": "Это новый запрос"},
    "message_moved_out": {
        "en": "#{n}: {name}'s last message was a new request and was moved out of this ticket.",
        "ru": "#{n}: последнее сообщение ({name}) оказалось новым запросом и перенесено из этой заявки.",
    },
    "use_buttons": {
        "en": "Please choose one of the buttons, or send /cancel to start over.",
        "ru": "Пожалуйста, выберите вариант кнопкой или отправьте /cancel, чтобы начать заново.",
    },
    "stale_button": {
        "en": "That request is no longer in progress. Just write your question again.",
        "ru": "Этот запрос уже не активен. Просто напишите вопрос ещё раз.",
    },
    "new_prompt": {
        "en": "Describe your problem or question in one message.",
        "ru": "Опишите проблему или вопрос одним сообщением.",
    },
    "empty_text": {
        "en": "Please write your question as text.",
        "ru": "Пожалуйста, напишите вопрос текстом.",
    },
    "unknown_article": {"en": "That article no longer exists.", "ru": "Этой статьи больше нет."},
    "unknown_category": {"en": "Unknown category.", "ru": "Неизвестная категория."},
    "my_tickets": {"en": "Your tickets:", "ru": "Ваши заявки:"},
    "my_none": {"en": "You have no tickets yet.", "ru": "У вас пока нет заявок."},
    "help_requester": {
        "en": (
            "Write your question and I'll look in the knowledge base or file a ticket.\n"
            "/new — start a new request\n/my — your tickets\n/reply N text — add to ticket #N\n"
            "/cancel — stop the current request\n/lang en|ru — language\n"
            "/link — join your Telegram and Slack accounts into one\n/help — this help"
        ),
        "ru": (
            "Напишите вопрос — я поищу ответ в базе знаний или создам заявку.\n"
            "/new — новый запрос\n/my — ваши заявки\n/reply N текст — дописать в заявку #N\n"
            "/cancel — отменить текущий запрос\n/lang en|ru — язык\n"
            "/link — объединить ваши аккаунты на разных платформах\n/help — эта справка"
        ),
    },
    "help_agent": {
        "en": (
            "Agent commands: /queue, /mine, /ticket N, /take N, /reply N text, /note N text, "
            "/resolve N, /answered N words, /assign N who, /escalate N, /priority N key, /release N, /canned [name], "
            "/away, /back, /stats [today|week|month]"
        ),
        "ru": (
            "Команды агента: /queue, /mine, /ticket N, /take N, /reply N текст, /note N текст, "
            "/resolve N, /answered N слова, /assign N кто, /escalate N, /priority N ключ, /release N, /canned [имя], "
            "/away, /back, /stats [сегодня|неделя|месяц]"
        ),
    },
    "lang_set": {"en": "Language: English.", "ru": "Язык: русский."},
    "lang_usage": {"en": "Usage: /lang en or /lang ru", "ru": "Использование: /lang en или /lang ru"},
    "unknown_command": {
        "en": "Unknown command {command}. /help lists what I understand.",
        "ru": "Неизвестная команда {command}. /help — список команд.",
    },
    "usage": {"en": "Usage: {usage}", "ru": "Использование: {usage}"},
    # --- input limits ---------------------------------------------------------
    "text_cut": {
        "en": "Your message was cut at {limit} characters; the rest ({rest} characters) was not saved — send it as a second message.",
        "ru": "Сообщение обрезано на {limit} символах; остальное ({rest} симв.) не сохранено — отправьте его вторым сообщением.",
    },
    "empty_reply": {
        "en": "The message is empty; nothing was sent. Write some text or attach a file.",
        "ru": "Сообщение пустое, ничего не отправлено. Напишите текст или приложите файл.",
    },
    "no_ticket": {"en": "No ticket #{n}.", "ru": "Заявки #{n} нет."},
    # --- relays ---------------------------------------------------------------
    "relay_from_agent": {"en": "#{n} · {name}: {text}", "ru": "#{n} · {name}: {text}"},
    "relay_from_requester": {"en": "#{n} · {name}: {text}", "ru": "#{n} · {name}: {text}"},
    "btn_reply": {"en": "Reply", "ru": "Ответить"},
    "reply_prompt": {
        "en": "Write your message for #{n}, or /cancel.",
        "ru": "Напишите сообщение для #{n} или /cancel.",
    },
    "reply_sent": {"en": "Sent to {name} (#{n}).", "ru": "Отправлено: {name} (#{n})."},
    "followup_sent": {"en": "Added to #{n}.", "ru": "Добавлено в #{n}."},
    "note_added": {"en": "Internal note added to #{n}.", "ru": "Внутренняя заметка добавлена в #{n}."},
    "claimed_requester": {
        "en": "{agent} is working on #{n}.",
        "ru": "{agent} взял(а) в работу заявку #{n}.",
    },
    # --- language -------------------------------------------------------------
    # Plural forms: key_<CLDR form> (en: one/other; ru: one/few/many/other), see Translator.plural.
    "n_days_one": {"en": "{n} day", "ru": "{n} день"},
    "n_days_few": {"ru": "{n} дня"},
    "n_days_many": {"ru": "{n} дней"},
    "n_days_other": {"en": "{n} days", "ru": "{n} дня"},
    "n_teams_one": {"en": "{n} team", "ru": "{n} команда"},
    "n_teams_few": {"ru": "{n} команды"},
    "n_teams_many": {"ru": "{n} команд"},
    "n_teams_other": {"en": "{n} teams", "ru": "{n} команды"},
    "n_categories_one": {"en": "{n} category", "ru": "{n} категория"},
    "n_categories_few": {"ru": "{n} категории"},
    "n_categories_many": {"ru": "{n} категорий"},
    "n_categories_other": {"en": "{n} categories", "ru": "{n} категории"},
    "n_people_one": {"en": "{n} person", "ru": "{n} человек"},
    "n_people_few": {"ru": "{n} человека"},
    "n_people_many": {"ru": "{n} человек"},
    "n_people_other": {"en": "{n} people", "ru": "{n} человека"},
    "note_mark": {"en": "note", "ru": "заметка"},
    "config_ok": {
        "en": "config OK: {teams}, {categories}, {people}, database {database}, platforms: {platforms}",
        "ru": "конфигурация в порядке: {teams}, {categories}, {people}, база данных {database}, платформы: {platforms}",
    },
    "platforms_none": {"en": "none (console only)", "ru": "нет (только консоль)"},
    # Argument words in usage lines ("/reply N text"), see localize_usage.
    "arg_text": {"en": "text", "ru": "текст"},
    "arg_who": {"en": "who", "ru": "кому"},
    "arg_name": {"en": "name", "ru": "шаблон"},
    "arg_days": {"en": "days", "ru": "дней"},
    "arg_words": {"en": "words", "ru": "слова"},
    # --- agent side -----------------------------------------------------------
    # --- reachability ---
    "card_unreachable": {"en": "{name} cannot be reached on {platform}", "ru": "{name}: нет связи в {platform}"},
    "platform_telegram": {"en": "Telegram", "ru": "Telegram"},
    "platform_slack": {"en": "Slack", "ru": "Slack"},
    "platform_console": {"en": "the terminal", "ru": "терминале"},
    "card": {
        "en": "#{n} [{priority}] {subject}\nFrom: {requester} · {category} · {tier}\nFirst response due: {due}\nStatus: {status}",
        "ru": "#{n} [{priority}] {subject}\nОт: {requester} · {category} · {tier}\nПервый ответ до: {due}\nСтатус: {status}",
    },
    "status_new": {"en": "waiting for an agent", "ru": "ждёт исполнителя"},
    "status_claimed": {"en": "in progress — {owner}", "ru": "в работе — {owner}"},
    "status_waiting": {"en": "waiting for the requester — {owner}", "ru": "ждём ответа заявителя — {owner}"},
    "status_resolved": {"en": "resolved — {owner}", "ru": "решена — {owner}"},
    "status_closed": {"en": "closed — {owner}", "ru": "закрыта — {owner}"},
    "btn_claim": {"en": "Claim", "ru": "Взять"},
    "btn_assign": {"en": "Assign", "ru": "Назначить"},
    "btn_resolve": {"en": "Resolve", "ru": "Решено"},
    "btn_escalate": {"en": "Escalate", "ru": "Эскалировать"},
    "btn_release": {"en": "Release", "ru": "Вернуть в очередь"},
    "btn_reassign": {"en": "Reassign", "ru": "Переназначить"},
    "claimed_ok": {"en": "#{n} is yours.", "ru": "Заявка #{n} ваша."},
    "claimed_already_yours": {"en": "#{n} is already yours.", "ru": "Заявка #{n} уже ваша."},
    "claimed_by_other": {"en": "#{n} is already taken by {name}.", "ru": "Заявку #{n} уже взял(а) {name}."},
    "assign_choose": {"en": "Assign #{n} to:", "ru": "Назначить #{n}:"},
    "assigned_ok": {"en": "#{n} assigned to {name}.", "ru": "Заявка #{n} назначена: {name}."},
    "assigned_to_you": {"en": "#{n} was assigned to you: {subject}", "ru": "Вам назначена заявка #{n}: {subject}"},
    "released_ok": {"en": "#{n} is back in the queue.", "ru": "Заявка #{n} возвращена в очередь."},
    "escalated_ok": {"en": "#{n} escalated {from_tier} → {to_tier}.", "ru": "Заявка #{n} эскалирована {from_tier} → {to_tier}."},
    "resolved_ok": {"en": "#{n} resolved.", "ru": "Заявка #{n} решена."},
    # --- learning from resolved tickets (the resolved card's KB offer) ---
    "btn_kb_answered": {"en": "Answered by: {title}", "ru": "Ответ в статье: {title}"},
    "btn_kb_answered_done": {"en": "✓ Answered by: {title}", "ru": "✓ Ответ в статье: {title}"},
    "btn_kb_save_draft": {"en": "Save this answer as an article", "ru": "Сохранить ответ как статью"},
    "btn_kb_pick": {"en": "Answered by another article…", "ru": "Ответ в другой статье…"},
    "btn_kb_pick_more": {"en": "More articles…", "ru": "Ещё статьи…"},
    "kb_pick": {
        "en": "#{n}: which article answered it? (page {page} of {pages}; or send /answered {n} words to search the KB)",
        "ru": "#{n}: в какой статье ответ? (страница {page} из {pages}; или отправьте /answered {n} слова для поиска по базе знаний)",
    },
    "kb_pick_empty": {"en": "#{n}: the knowledge base has no articles.", "ru": "#{n}: в базе знаний нет статей."},
    "kb_find": {"en": "#{n}: articles for “{words}”:", "ru": "#{n}: статьи по запросу «{words}»:"},
    "kb_find_none": {
        "en": "#{n}: no article matches “{words}”. Try other words, or tap “Answered by another article…” on the card.",
        "ru": "#{n}: по запросу «{words}» статей нет. Попробуйте другие слова или нажмите «Ответ в другой статье…» на карточке.",
    },
    "card_kb_answered": {"en": "Answered by: {titles}", "ru": "Ответ в статье: {titles}"},
    "kb_learned_ok": {
        "en": "#{n}: the request is saved as a question of “{title}”. The bot uses it after the next KB reload.",
        "ru": "#{n}: запрос сохранён как вопрос к статье «{title}». Бот учтёт его после перезагрузки базы знаний.",
    },
    "kb_learned_already": {
        "en": "#{n} is already saved as a question of “{title}”.",
        "ru": "Запрос заявки #{n} уже сохранён как вопрос к статье «{title}».",
    },
    "kb_unknown_article": {
        "en": "There is no KB article “{slug}” (any more).",
        "ru": "Статьи «{slug}» в базе знаний нет (больше нет).",
    },
    "kb_draft_saved": {
        "en": "#{n}: the draft article is saved for review: {path}",
        "ru": "#{n}: черновик статьи сохранён для проверки: {path}",
    },
    "kb_draft_exists": {
        "en": "#{n}: a draft already exists and was left as it is: {path}",
        "ru": "#{n}: черновик уже есть, он не изменён: {path}",
    },
    "kb_draft_no_reply": {
        "en": "#{n} has no agent reply to save as an article.",
        "ru": "В заявке #{n} нет ответа сотрудника, который можно сохранить как статью.",
    },
    "kb_draft_failed": {
        "en": "#{n}: the draft could not be written (see the bot's log).",
        "ru": "#{n}: черновик не удалось записать (подробности в журнале бота).",
    },
    "resolved_requester": {
        "en": "#{n} is resolved: {subject}\nHow did we do? Rate 1–5, or tell us it is not fixed.",
        "ru": "Заявка #{n} решена: {subject}\nОцените, пожалуйста, от 1 до 5 или сообщите, что проблема осталась.",
    },
    "resolved_note": {"en": "Solution: {note}", "ru": "Решение: {note}"},
    "btn_reopen": {"en": "Not fixed — reopen", "ru": "Не решено — открыть снова"},
    "rate_range": {"en": "Please rate from 1 to 5.", "ru": "Пожалуйста, поставьте оценку от 1 до 5."},
    "rated_thanks": {"en": "Thank you for rating #{n}!", "ru": "Спасибо за оценку заявки #{n}!"},
    "rated_agent": {"en": "#{n} rated {score}/5 by {name}.", "ru": "Заявка #{n}: оценка {score}/5 от {name}."},
    "low_csat_lead": {
        "en": "Low rating {score}/5 on #{n} “{subject}” (agent: {agent}).",
        "ru": "Низкая оценка {score}/5 по заявке #{n} «{subject}» (исполнитель: {agent}).",
    },
    "reopened_requester": {"en": "#{n} is open again. We'll be in touch.", "ru": "Заявка #{n} снова открыта. Мы свяжемся с вами."},
    "reopened_agent": {"en": "#{n} was reopened by {name}: not fixed.", "ru": "Заявку #{n} открыли снова ({name}): проблема не решена."},
    "queue_title": {"en": "Open tickets:", "ru": "Открытые заявки:"},
    "queue_empty": {"en": "The queue is empty.", "ru": "Очередь пуста."},
    "mine_title": {"en": "Your open tickets:", "ru": "Ваши открытые заявки:"},
    "mine_empty": {"en": "You have no open tickets.", "ru": "У вас нет открытых заявок."},
    "queue_line": {"en": "#{n} [{priority}] {subject} — {status}", "ru": "#{n} [{priority}] {subject} — {status}"},
    "ticket_history": {"en": "History:", "ru": "История:"},
    "canned_list": {"en": "Canned replies: {names}", "ru": "Шаблоны ответов: {names}"},
    "canned_unknown": {"en": "No canned reply named {name}.", "ru": "Нет шаблона с именем {name}."},
    "away_on": {"en": "You are away: no new assignments until /back.", "ru": "Вы отсутствуете: новые заявки не назначаются до /back."},
    "away_off": {"en": "Welcome back: you get assignments again.", "ru": "С возвращением: заявки снова назначаются вам."},
    "new_in_tier": {"en": "Escalated to {tier}:", "ru": "Эскалация на {tier}:"},
    "stats": {
        "en": (
            "Stats for the last {period}{team}:\ncreated {created} · resolved {resolved} · open now {open} · overdue {overdue}\n"
            "first response median {frt_p50} (p90 {frt_p90}) · resolution median {res_p50} (p90 {res_p90})\n"
            "SLA breached {breach} · CSAT {csat} ({csat_n}) · KB deflections {deflections}"
        ),
        "ru": (
            "Статистика за {period}{team}:\nсоздано {created} · решено {resolved} · открыто {open} · просрочено {overdue}\n"
            "первый ответ: медиана {frt_p50} (p90 {frt_p90}) · решение: медиана {res_p50} (p90 {res_p90})\n"
            "нарушение SLA {breach} · CSAT {csat} ({csat_n}) · решено базой знаний {deflections}"
        ),
    },
    # --- agents ---
    "reason_no_higher_tier": {
        "en": "#{n} cannot be escalated: no tier above {tier} has agents.",
        "ru": "заявку #{n} нельзя эскалировать: выше {tier} нет агентов.",
    },
    "escalation_reason": {"en": "Reason: {reason}", "ru": "Причина: {reason}"},
    "escalated_requester": {
        "en": "Your request #{n} has been passed to a specialist. We will get back to you.",
        "ru": "Ваша заявка #{n} передана специалисту. Мы свяжемся с вами.",
    },
    "ask_escalate_reason": {
        "en": "Reason for escalating #{n} (one line), or Skip",
        "ru": "Причина эскалации #{n} (одной строкой) или «Пропустить»",
    },
    "ask_resolve_note": {
        "en": "Resolution note for #{n} (one line), or Skip",
        "ru": "Что сделано по заявке #{n} (одной строкой) или «Пропустить»",
    },
    "btn_skip": {"en": "Skip", "ru": "Пропустить"},
    "ask_csat_comment": {
        "en": "Anything to add about #{n}? One line, or Skip. Something new? Send /new.",
        "ru": "Хотите что-то добавить о заявке #{n}? Одной строкой или «Пропустить». Новый вопрос? Отправьте /new.",
    },
    "csat_comment_thanks": {"en": "Thank you for the comment.", "ru": "Спасибо за комментарий."},
    "csat_comment_skipped": {"en": "OK.", "ru": "Хорошо."},
    "csat_comment_staff": {
        "en": "#{n}: {name} rated {score}/5 and wrote: {comment}",
        "ru": "#{n}: {name} поставил(а) {score}/5 и написал(а): {comment}",
    },
    "find_title": {"en": "Found:", "ru": "Найдено:"},
    "find_empty": {"en": "Nothing found.", "ru": "Ничего не найдено."},
    "hist_system": {"en": "desk", "ru": "система"},
    "hist_claim": {"en": "took the ticket", "ru": "взял(а) заявку"},
    "hist_assign": {"en": "assigned to {name}", "ru": "назначено: {name}"},
    "hist_release": {"en": "returned to the queue", "ru": "вернул(а) в очередь"},
    "hist_escalate": {"en": "escalated {from_tier} → {to_tier}", "ru": "эскалация {from_tier} → {to_tier}"},
    "hist_resolve": {"en": "resolved", "ru": "решено"},
    "hist_reopen": {"en": "reopened", "ru": "переоткрыто"},
    "hist_rate": {"en": "rated {score}/5", "ru": "оценка {score}/5"},
    "hist_csat_comment": {"en": "commented on the rating", "ru": "комментарий к оценке"},
    # --- refusals -------------------------------------------------------------
    "denied": {"en": "Not allowed: {reason}", "ru": "Нельзя: {reason}"},
    "reason_no_ticket": {"en": "there is no ticket #{n}.", "ru": "заявки #{n} нет."},
    "reason_not_agent": {"en": "only agents of {team} can do this.", "ru": "это могут только агенты команды {team}."},
    "reason_not_staff": {"en": "only agents and leads can do this.", "ru": "это доступно только агентам и руководителям."},
    "reason_not_owner": {"en": "only the assignee or a lead can do this.", "ru": "это может только исполнитель или руководитель."},
    "reason_not_requester": {"en": "this is not your ticket.", "ru": "это не ваша заявка."},
    "reason_bad_state": {"en": "#{n} is {status}.", "ru": "заявка #{n} в статусе «{status}»."},
    "reason_top_tier": {"en": "#{n} is already at L3.", "ru": "заявка #{n} уже на L3."},
    "reason_unknown_agent": {"en": "{who} is not an agent of {team}.", "ru": "{who} не агент команды {team}."},
    "reason_held": {"en": "#{n} is held by {name}.", "ru": "заявку #{n} ведёт {name}."},
    # --- engine signals (attachments, edits, forwards, unsupported content) ---
    "file_too_big_relay": {
        "en": "📎 {name} ({size}) was not passed on: files over {limit} cannot be forwarded by the bot. "
        "Please ask for it another way (a link, a smaller file).",
        "ru": "📎 {name} ({size}) не передан: бот не может переслать файл больше {limit}. "
        "Попросите прислать его иначе (ссылкой или файлом поменьше).",
    },
    "file_too_big_sender": {
        "en": "Your file {name} ({size}) is over {limit} and could not be passed on. "
        "Please send a link or a smaller file.",
        "ru": "Файл {name} ({size}) больше {limit}, передать его не получилось. "
        "Пришлите ссылку или файл поменьше.",
    },
    "draft_file_added": {
        "en": "File added to your request.",
        "ru": "Файл добавлен к запросу.",
    },
    "file_kind_photo": {"en": "photo", "ru": "фото"},
    "file_kind_voice": {"en": "voice message", "ru": "голосовое сообщение"},
    "file_kind_video": {"en": "video", "ru": "видео"},
    "file_kind_video_note": {"en": "video message", "ru": "видеосообщение"},
    "file_kind_audio": {"en": "audio", "ru": "аудио"},
    "file_kind_animation": {"en": "animation", "ru": "анимация"},
    "file_kind_document": {"en": "file", "ru": "файл"},
    "file_kind_file": {"en": "file", "ru": "файл"},
    "forwarded_from": {"en": "↪ forwarded from {name}", "ru": "↪ переслано от {name}"},
    "relay_edited": {"en": "✏️ #{n} {name} edited: {text}", "ru": "✏️ #{n} {name} исправил(а): {text}"},
    "hist_edited": {"en": "✏️ edited", "ru": "✏️ исправлено"},
    "unsupported_content": {
        "en": "I can't read that kind of message. Please send text or a file.",
        "ru": "Такое сообщение я не прочитаю. Пришлите текст или файл.",
    },
    "button_outdated": {
        "en": "This button is out of date. Please use a newer message or type your request.",
        "ru": "Эта кнопка устарела. Воспользуйтесь более новым сообщением или напишите запрос.",
    },
    "start_category": {
        "en": "New request: {category}. Describe the problem in one message (/cancel to stop).",
        "ru": "Новый запрос: {category}. Опишите проблему одним сообщением (/cancel — отменить).",
    },
    # --- telegram frontend (command menus) ---
    "tgcmd_new": {"en": "Start a new request", "ru": "Новый запрос"},
    "tgcmd_my": {"en": "Your tickets", "ru": "Ваши заявки"},
    "tgcmd_cancel": {"en": "Stop the current request", "ru": "Отменить текущий запрос"},
    "tgcmd_lang": {"en": "Language: /lang en or /lang ru", "ru": "Язык: /lang en или /lang ru"},
    "tgcmd_link": {"en": "Link your Telegram and Slack accounts", "ru": "Связать аккаунты Telegram и Slack"},
    "tgcmd_help": {"en": "What I can do", "ru": "Что я умею"},
    "tgcmd_queue": {"en": "The team's open tickets", "ru": "Открытые заявки команды"},
    "tgcmd_mine": {"en": "Tickets assigned to you", "ru": "Ваши заявки в работе"},
    "tgcmd_ticket": {"en": "/ticket N — a ticket and its history", "ru": "/ticket N — заявка и её история"},
    "tgcmd_take": {"en": "/take N — take a ticket", "ru": "/take N — взять заявку"},
    "tgcmd_note": {"en": "/note N text — internal note", "ru": "/note N текст — внутренняя заметка"},
    "tgcmd_resolve": {"en": "/resolve N — mark resolved", "ru": "/resolve N — отметить решённой"},
    "tgcmd_answered": {"en": "/answered N words — the KB article that answered #N", "ru": "/answered N слова — статья, в которой ответ на #N"},
    "tgcmd_assign": {"en": "/assign N who — assign to an agent", "ru": "/assign N кто — назначить агенту"},
    "tgcmd_escalate": {"en": "/escalate N — to the next tier", "ru": "/escalate N — на следующую линию"},
    "tgcmd_release": {"en": "/release N — back to the queue", "ru": "/release N — вернуть в очередь"},
    "tgcmd_find": {"en": "/find words — search tickets", "ru": "/find слова — поиск заявок"},
    "tgcmd_canned": {"en": "Canned answers", "ru": "Шаблоны ответов"},
    "tgcmd_away": {"en": "Mark yourself away", "ru": "Отметить себя отсутствующим"},
    "tgcmd_back": {"en": "Back at work", "ru": "Снова на работе"},
    "tgcmd_stats": {"en": "/stats [today|week|month] — team numbers", "ru": "/stats [сегодня|неделя|месяц] — цифры команды"},
    "tgcmd_priority": {"en": "/priority N key — change a ticket's priority", "ru": "/priority N ключ — сменить приоритет"},
    # --- run / check-config ---
    "config_server": {"en": "HTTP server of deskbot run: {listen}", "ru": "HTTP-сервер deskbot run: {listen}"},
    "config_telegram_polling": {
        "en": "telegram: polling (getUpdates), Bot API {api_base}",
        "ru": "telegram: опрос (getUpdates), Bot API {api_base}",
    },
    "config_telegram_webhook": {
        "en": "telegram: webhook {url}, Bot API {api_base}",
        "ru": "telegram: вебхук {url}, Bot API {api_base}",
    },
    # --- slack frontend ---
    "slack_modal_title": {"en": "New request", "ru": "Новый запрос"},
    "slack_modal_submit": {"en": "Send", "ru": "Отправить"},
    "slack_modal_close": {"en": "Cancel", "ru": "Отмена"},
    "slack_modal_desc": {"en": "What happened?", "ru": "Что случилось?"},
    "slack_modal_desc_hint": {"en": "Describe the problem or what you need", "ru": "Опишите проблему или что нужно"},
    "slack_modal_category": {"en": "Category", "ru": "Категория"},
    "slack_modal_category_hint": {"en": "Leave empty to let the desk choose", "ru": "Оставьте пустым — служба выберет сама"},
    "slack_modal_desc_empty": {"en": "Please describe the request.", "ru": "Опишите, пожалуйста, запрос."},
    # --- linking accounts ---
    "link_code": {
        "en": "Your link code: {code}\nWithin {minutes} minutes, send /link {code} from your other account "
        "(Telegram or Slack; in Slack: /helpdesk link {code}). The code works once.",
        "ru": "Ваш код для связи аккаунтов: {code}\nВ течение {minutes} минут отправьте /link {code} со своего "
        "другого аккаунта (Telegram или Slack; в Slack: /helpdesk link {code}). Код действует один раз.",
    },
    "link_private_only": {
        "en": "Use /link in a direct chat with me: a code shown here could be used by anyone in this chat.",
        "ru": "Используйте /link в личном чате со мной: код, показанный здесь, может использовать любой участник чата.",
    },
    "link_wrong": {
        "en": "This code is not valid; nothing was changed. Check it, or send /link from your other account "
        "for a new one. Attempts left: {left}.",
        "ru": "Код неверный, ничего не изменено. Проверьте его или отправьте /link с другого аккаунта, чтобы "
        "получить новый. Осталось попыток: {left}.",
    },
    "link_expired": {
        "en": "This code has expired; nothing was changed. Send /link from your other account for a new one.",
        "ru": "Срок действия кода истёк, ничего не изменено. Отправьте /link с другого аккаунта, чтобы получить новый.",
    },
    "link_own_code": {
        "en": "This code belongs to this same account. Send it from your other account (Telegram or Slack).",
        "ru": "Этот код выдан этому же аккаунту. Отправьте его со своего другого аккаунта (Telegram или Slack).",
    },
    "link_same_platform": {
        "en": "This code was made in {platform} as well; nothing was changed. Send it from your account "
        "on the other platform.",
        "ru": "Этот код тоже получен в {platform}, ничего не изменено. Отправьте его со своего аккаунта на "
        "другой платформе.",
    },
    "link_both_configured": {
        "en": "Both accounts are set up by the desk administrators, so they cannot be joined here; "
        "nothing was changed. Ask an administrator to do it.",
        "ru": "Оба аккаунта настроены администраторами, поэтому объединить их здесь нельзя; ничего не "
        "изменено. Попросите администратора.",
    },
    "link_too_many": {
        "en": "Too many wrong codes; linking is paused. Try again in {minutes} minutes.",
        "ru": "Слишком много неверных кодов; связывание приостановлено. Попробуйте через {minutes} минут.",
    },
    "link_done": {
        "en": "Done: your {other} account and this one are now one. /my lists the requests from both, "
        "and answers reach you where you last wrote.",
        "ru": "Готово: ваш аккаунт {other} и этот теперь объединены. /my покажет заявки с обоих, а ответы "
        "придут туда, где вы писали последним.",
    },
    # --- slack app home ---
    "home_title": {"en": "Service desk", "ru": "Служба поддержки"},
    "home_intro": {
        "en": "Write to me in Messages to ask for help; your requests and their status are here.",
        "ru": "Напишите мне во вкладке «Сообщения», чтобы попросить о помощи; ваши заявки и их статус — здесь.",
    },
    "home_my_requests": {"en": "My requests", "ru": "Мои заявки"},
    "home_my_requests_none": {"en": "You have no requests yet.", "ru": "У вас пока нет заявок."},
    "home_my_tickets": {"en": "My tickets", "ru": "Мои тикеты"},
    "home_my_tickets_none": {"en": "You hold no open tickets.", "ru": "У вас нет открытых заявок в работе."},
    "home_team_queue": {"en": "Team queue", "ru": "Очередь команды"},
    "home_team_queue_none": {"en": "Nobody is waiting: the queue is empty.", "ru": "Очередь пуста: никто не ждёт."},
    "home_row": {"en": "#{n} {subject}", "ru": "#{n} {subject}"},
    "home_row_queue": {"en": "#{n} [{priority}] {subject}", "ru": "#{n} [{priority}] {subject}"},
    "home_row_detail": {"en": "{status} · {team}", "ru": "{status} · {team}"},
    "home_more": {"en": "… and {n} more", "ru": "… и ещё {n}"},
    # --- slack modal and gestures ---
    "form_field_required": {"en": "This question needs an answer.", "ru": "На этот вопрос нужен ответ."},
    "slack_modal_priority": {"en": "Priority", "ru": "Приоритет"},
    "slack_modal_priority_empty": {"en": "Please choose a priority.", "ru": "Выберите, пожалуйста, приоритет."},
    "slack_modal_category_gone": {
        "en": "This category is no longer offered: please choose another.",
        "ru": "Этой категории больше нет: выберите, пожалуйста, другую.",
    },
    "gesture_filed": {
        "en": "Ticket #{n} created on behalf of {name}; the desk takes it from here with them.",
        "ru": "Заявка #{n} создана от имени {name}; дальше служба общается с автором.",
    },
    "gesture_filed_before": {
        "en": "This message is already ticket #{n}.",
        "ru": "По этому сообщению уже есть заявка #{n}.",
    },
    # --- cross-platform files and time zones ---
    "file_not_copied_too_big": {
        "en": "📎 {name} ({size}) is not attached here: a bot can send files of at most {limit} in {platform}. "
        "It stays with the ticket in {source}; ask for a link or a smaller file if you need it.",
        "ru": "📎 {name} ({size}) не приложен: в {platform} бот может отправить файл не больше {limit}. "
        "Файл остался в заявке в {source}; если он нужен, попросите ссылку или файл поменьше.",
    },
    "file_not_copied": {
        "en": "📎 {name} is not attached here: it could not be fetched from {source}. "
        "It stays with the ticket there; ask for it another way if you need it.",
        "ru": "📎 {name} не приложен: его не удалось получить из {source}. "
        "Файл остался в заявке там; если он нужен, попросите прислать его иначе.",
    },
    # --- business calendars and SLA ---
    "priority_changed": {
        "en": "#{n}: priority is now {priority}; due by {due}.",
        "ru": "#{n}: приоритет теперь {priority}; срок — {due}.",
    },
    "priority_unknown": {
        "en": "There is no priority “{name}”. Use one of: {names}.",
        "ru": "Нет приоритета «{name}». Доступны: {names}.",
    },
    # --- runner ---
    # --- sweep rules ---
    "sweep_unclaimed_repost": {
        "en": "⏰ #{n} “{subject}” has waited {waited} of working time and nobody has taken it. Who claims it?",
        "ru": "⏰ Заявка #{n} «{subject}» ждёт уже {waited} рабочего времени, её никто не взял. Кто возьмёт?",
    },
    "sweep_unclaimed_lead": {
        "en": "⏰ #{n} “{subject}” is still unclaimed after {waited} of working time. {lead}, please find it an owner.",
        "ru": "⏰ Заявку #{n} «{subject}» так и не взяли за {waited} рабочего времени. {lead}, пожалуйста, найдите исполнителя.",
    },
    "sweep_unclaimed_lead_notice": {
        "en": "#{n} “{subject}” ({team}, {tier}) is still unclaimed after {waited} of working time.",
        "ru": "Заявку #{n} «{subject}» ({team}, {tier}) так и не взяли за {waited} рабочего времени.",
    },
    "sweep_response_near": {
        "en": "⏳ #{n} “{subject}”: the first response is due by {due}. Please answer the requester before then.",
        "ru": "⏳ Заявка #{n} «{subject}»: первый ответ нужен до {due}. Пожалуйста, ответьте заявителю до этого времени.",
    },
    "sweep_response_overdue": {
        "en": "❗ #{n} “{subject}”: the first response was due by {due} and the requester has not heard from us yet.",
        "ru": "❗ Заявка #{n} «{subject}»: первый ответ был нужен до {due}, а заявитель ещё ничего от нас не получил.",
    },
    "sweep_what_first_response": {"en": "the first response", "ru": "первый ответ"},
    "sweep_what_resolution": {"en": "the resolution", "ru": "решение"},
    "sweep_breach_reason": {"en": "SLA: {what} was due by {due}", "ru": "SLA: {what} — срок до {due}"},
    "sweep_breach_escalated": {
        "en": "🚨 SLA breached on #{n} “{subject}”: {what} was due by {due}. Escalated {from_tier} → {to_tier}.",
        "ru": "🚨 Нарушен SLA по заявке #{n} «{subject}»: {what} — срок был до {due}. Эскалация {from_tier} → {to_tier}.",
    },
    "sweep_breach_stays": {
        "en": "🚨 SLA breached on #{n} “{subject}”: {what} was due by {due}. No higher tier has agents: it stays at {tier}.",
        "ru": "🚨 Нарушен SLA по заявке #{n} «{subject}»: {what} — срок был до {due}. На линиях выше нет сотрудников: "
        "заявка остаётся на {tier}.",
    },
    "sweep_waiting_remind": {
        "en": "We are waiting for your answer on #{n} “{subject}”. Just reply here to go on. If we do not hear "
        "from you, we will mark it resolved in {after} (working time only; you can reopen it).",
        "ru": "Мы ждём вашего ответа по заявке #{n} «{subject}». Просто ответьте здесь, чтобы продолжить. Если ответа "
        "не будет, через {after} (считая только рабочее время) мы отметим заявку решённой — её можно будет открыть снова.",
    },
    "sweep_waiting_remind_only": {
        "en": "We are waiting for your answer on #{n} “{subject}”. Just reply here to go on.",
        "ru": "Мы ждём вашего ответа по заявке #{n} «{subject}». Просто ответьте здесь, чтобы продолжить.",
    },
    "sweep_working_days_one": {"en": "{n} working day", "ru": "{n} рабочий день"},
    "sweep_working_days_few": {"ru": "{n} рабочих дня"},
    "sweep_working_days_many": {"ru": "{n} рабочих дней"},
    "sweep_working_days_other": {"en": "{n} working days", "ru": "{n} рабочего дня"},
    "sweep_auto_resolved": {
        "en": "#{n} “{subject}” is marked resolved: we did not hear back from you. If it still needs work, "
        "tap the button or just write here.",
        "ru": "Заявка #{n} «{subject}» отмечена решённой: мы не получили от вас ответа. Если вопрос не решён, "
        "нажмите кнопку или просто напишите здесь.",
    },
    "sweep_auto_resolved_note": {
        "en": "resolved automatically: no answer from the requester",
        "ru": "решена автоматически: заявитель не ответил",
    },
    "sweep_off_shift_lead": {
        "en": "{name} is off shift and holds tickets that may need another owner:\n{tickets}",
        "ru": "{name}: смена закончилась, а на этом сотруднике остались заявки — возможно, им нужен другой исполнитель:\n{tickets}",
    },
    "sweep_away_lead": {
        "en": "{name} is away and holds tickets that may need another owner:\n{tickets}",
        "ru": "{name}: сотрудник отсутствует (/away), а на нём остались заявки — возможно, им нужен другой исполнитель:\n{tickets}",
    },
    # --- digest and stats ---
    "digest_title": {"en": "{team} — {period}", "ru": "{team} — {period}"},
    "digest_for_day": {"en": "digest for {date}", "ru": "сводка за {date}"},
    "stats_today": {"en": "stats for today", "ru": "статистика за сегодня"},
    "stats_last_days": {"en": "stats for the last {period}", "ru": "статистика за последние {period}"},
    "digest_late": {
        "en": "Sent late: it was due {due}, when the bot was not running.",
        "ru": "Отправлено с опозданием: сводка ожидалась {due}, бот тогда не работал.",
    },
    "digest_flow": {
        "en": "Created {created} · resolved {resolved} · open now {open} · overdue {overdue}",
        "ru": "Создано {created} · решено {resolved} · открыто сейчас {open} · просрочено {overdue}",
    },
    "digest_times": {
        "en": "Business time to first response: median {frt_p50}, p90 {frt_p90} · to resolution: median {res_p50}, p90 {res_p90}",
        "ru": "Рабочее время до первого ответа: медиана {frt_p50}, p90 {frt_p90} · до решения: медиана {res_p50}, p90 {res_p90}",
    },
    "digest_sla_csat": {
        "en": "SLA breached: {breach} of resolved · CSAT {csat} (ratings: {csat_n})",
        "ru": "Нарушен SLA: {breach} решённых · CSAT {csat} (оценок: {csat_n})",
    },
    "digest_backlog": {"en": "Open per assignee: {items}", "ru": "Открыто по исполнителям: {items}"},
    "digest_unassigned": {"en": "unassigned", "ru": "без исполнителя"},
    "digest_oldest": {"en": "Oldest open:", "ru": "Самые старые открытые:"},
    "digest_oldest_line": {"en": "  #{n} {subject} — open {age} ({who})", "ru": "  #{n} {subject} — открыта {age} ({who})"},
    "digest_repeats": {
        "en": "Repeat requests (same person and category within {days} days): {n} — {top}",
        "ru": "Повторные обращения (тот же человек и категория за {days} дн.): {n} — {top}",
    },
    "digest_repeat_item": {"en": "{name} · {category} ×{n}", "ru": "{name} · {category} ×{n}"},
    "digest_low_rating": {"en": "Low rating #{n} {score}/5: “{comment}”", "ru": "Низкая оценка #{n} {score}/5: «{comment}»"},
    "digest_kb": {"en": "KB deflections (whole desk): {n}", "ru": "Решено базой знаний (весь деск): {n}"},
    "digest_gaps": {"en": "Top KB gaps: {items}", "ru": "Чего нет в базе знаний: {items}"},
    "digest_gap_item": {"en": "“{query}” ×{n}", "ru": "«{query}» ×{n}"},
    "stats_usage": {"en": "/stats [today|week|month|days]", "ru": "/stats [сегодня|неделя|месяц|дни]"},
    "chart_title": {"en": "{team}: the last {days} days", "ru": "{team}: последние {days} дн."},
    "chart_created": {"en": "Created", "ru": "Создано"},
    "chart_resolved": {"en": "Resolved", "ru": "Решено"},
    "chart_tickets": {"en": "Tickets", "ru": "Заявки"},
    "chart_breach": {"en": "SLA breached, % of resolved", "ru": "Нарушен SLA, % решённых"},
    # --- console ---
    "console_updated": {"en": "(updated)", "ru": "(обновлено)"},
    "console_no_button": {"en": "no button {n} for {who}", "ru": "нет кнопки {n} у {who}"},
    "console_pressed": {"en": "{who} pressed “{label}”", "ru": "{who} нажал(а) «{label}»"},
    "console_now_acting": {"en": "now acting as {who} ({name})", "ru": "теперь вы — {who} ({name})"},
    "console_unknown_person": {"en": "unknown person {name}; known: {known}", "ru": "нет такого человека {name}; есть: {known}"},
    "console_banner": {
        "en": "deskbot console — acting as {who}. Type a message, a number to press a button,\n"
        "/as NAME to switch person ({known}), /help, /quit.",
        "ru": "консоль deskbot — вы {who}. Пишите сообщение, число нажимает кнопку,\n"
        "/as ИМЯ — сменить человека ({known}), /help, /quit.",
    },
    "console_help": {
        "en": "Console: /as NAME — act as another person; /whoami; /quit or /exit; "
        "/# text — a comment (ignored; for scripts); a number presses a button.",
        "ru": "Консоль: /as ИМЯ — действовать от имени другого человека; /whoami; /quit или /exit; "
        "/# текст — комментарий (пропускается; для сценариев); число нажимает кнопку.",
    },
}


def t(key: str, locale: str, **values: Any) -> str:
    """The text ``key`` in ``locale`` (falling back to English), formatted with ``values``."""
    entry = TEXTS[key]
    template = entry.get(locale) or entry["en"]
    return template.format(**values) if values else template


class Translator:
    """``t = translator("ru"); t("btn_claim")`` — texts bound to one locale."""

    def __init__(self, locale: str) -> None:
        self.locale = locale

    def __call__(self, key: str, **values: Any) -> str:
        return t(key, self.locale, **values)

    def plural(self, key: str, n: int, **values: Any) -> str:
        """``key`` in the plural form CLDR (Babel) picks for ``n`` in this locale: ``key_one`` etc."""
        return plural(key, n, self.locale, **values)


def plural(key: str, n: int, locale: str, **values: Any) -> str:
    """The text ``{key}_{form}`` for count ``n`` (placeholder ``{n}``), ``_other`` when absent."""
    name = f"{key}_{_plural_form(locale, n)}"
    if locale not in TEXTS.get(name, {}):
        name = f"{key}_other"
    return t(name, locale, n=n, **values)


def localize_usage(usage: str, locale: str) -> str:
    """A usage line like ``/reply N text`` with its argument words in ``locale``."""
    words = []
    for word in usage.split(" "):
        bare = word.strip("[]")
        key = f"arg_{bare}"
        words.append(word.replace(bare, t(key, locale)) if key in TEXTS and not word.startswith("/") else word)
    return " ".join(words)


def _plural_form(locale: str, n: int) -> str:
    from babel import Locale

    try:
        return str(Locale.parse(locale).plural_form(n))
    except (ValueError, LookupError):
        return "other"


def translator(locale: str) -> Translator:
    return Translator(locale)
