"""Every user-facing text, in English and Russian.

``t(key, locale, **values)`` formats one. Values are user data and are inserted
as is: escaping for HTML / Block Kit is the renderer's job.
"""

from __future__ import annotations

from typing import Any

TEXTS: dict[str, dict[str, str]] = {
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
            "/cancel — stop the current request\n/lang en|ru — language\n/help — this help"
        ),
        "ru": (
            "Напишите вопрос — я поищу ответ в базе знаний или создам заявку.\n"
            "/new — новый запрос\n/my — ваши заявки\n/reply N текст — дописать в заявку #N\n"
            "/cancel — отменить текущий запрос\n/lang en|ru — язык\n/help — эта справка"
        ),
    },
    "help_agent": {
        "en": (
            "Agent commands: /queue, /mine, /ticket N, /take N, /reply N text, /note N text, "
            "/resolve N, /assign N who, /escalate N, /release N, /canned [name], /away, /back, /stats [days]"
        ),
        "ru": (
            "Команды агента: /queue, /mine, /ticket N, /take N, /reply N текст, /note N текст, "
            "/resolve N, /assign N кто, /escalate N, /release N, /canned [имя], /away, /back, /stats [дни]"
        ),
    },
    "lang_set": {"en": "Language: English.", "ru": "Язык: русский."},
    "lang_usage": {"en": "Usage: /lang en or /lang ru", "ru": "Использование: /lang en или /lang ru"},
    "unknown_command": {
        "en": "Unknown command {command}. /help lists what I understand.",
        "ru": "Неизвестная команда {command}. /help — список команд.",
    },
    "usage": {"en": "Usage: {usage}", "ru": "Использование: {usage}"},
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
    # --- agent side -----------------------------------------------------------
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
    "resolved_requester": {
        "en": "#{n} is resolved: {subject}\nHow did we do? Rate 1–5, or tell us it is not fixed.",
        "ru": "Заявка #{n} решена: {subject}\nОцените, пожалуйста, от 1 до 5 или сообщите, что проблема осталась.",
    },
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
            "Stats for the last {days} day(s){team}:\ncreated {created} · resolved {resolved} · open now {open} · overdue {overdue}\n"
            "first response median {frt_p50} (p90 {frt_p90}) · resolution median {res_p50} (p90 {res_p90})\n"
            "SLA breached {breach} · CSAT {csat} ({csat_n}) · KB deflections {deflections}"
        ),
        "ru": (
            "Статистика за {days} дн.{team}:\nсоздано {created} · решено {resolved} · открыто {open} · просрочено {overdue}\n"
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
        "en": "Anything to add about #{n}? One line, or Skip",
        "ru": "Хотите что-то добавить о заявке #{n}? Одной строкой или «Пропустить»",
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


def translator(locale: str) -> Translator:
    return Translator(locale)
