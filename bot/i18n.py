"""Every participant-facing sentence the engine says, in Thai (first) and English, and the one
place dates and times are written for people (`when`, `day`).

Survey content lives in bot/surveys/*.yaml; this file holds the conversation around it. Words follow
the glossary in docs/glossary.md (one term per concept: ขีดความสามารถ, ระดับปัจจุบัน, เป้าหมายปี 2570,
ร่างแผน, แชต, …), and every Thai message to a participant ends politely: ค่ะ for a statement, คะ for
a question, errors and instructions included (tests/test_words.py checks it; button labels, lines
of a longer message and organizer-only messages are listed there as exempt).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

BANGKOK = ZoneInfo("Asia/Bangkok")
_TH_DAYS = ("จ.", "อ.", "พ.", "พฤ.", "ศ.", "ส.", "อา.")
_TH_MONTHS = ("ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.")
_TH_MONTHS_FULL = (
    "มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
    "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม",
)  # fmt: skip
_EN_MONTHS_FULL = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

# The notice's version is the date it took effect (stored with each consent; shown with `day`).
# 2026-12-07: comments may be quoted in reports without their writer, retention counted as storage
# purges, the chat account id kept after consent and why.
NOTICE_VERSION = "2026-12-07"
# Consents to these earlier notices are asked again (bot.engine.onboarding.outdated): they promised
# that only aggregate results are published, and the reports now quote comments.
REASK_VERSIONS = frozenset({"2026-11-25", "2026-12-02"})

MESSAGES: dict[str, tuple[str, str]] = {
    "welcome": (
        "สวัสดีค่ะ ยินดีต้อนรับสู่ “รับฟัง” ช่องทางแสดงความคิดเห็นต่อ (ร่าง) แผนพัฒนารัฐบาลดิจิทัลของประเทศไทย "
        "พ.ศ. 2566–2570 ของสำนักงานพัฒนารัฐบาลดิจิทัล (สพร.) ค่ะ",
        "Welcome to rabfang (“to listen”): have your say on Thailand's draft Digital Government "
        "Development Plan 2023–2027 by the Digital Government Development Agency (DGA).",
    ),
    "choose_lang": ("กรุณาเลือกภาษาค่ะ", "Please choose a language."),
    "lang_set": ("ใช้ภาษาไทยแล้วค่ะ", "Language set to English."),
    "consent": (
        "ก่อนเริ่ม กรุณาอ่านประกาศความเป็นส่วนตัวโดยย่อค่ะ\n\n{notice}\n\nท่านยินยอมให้เก็บและใช้ข้อมูลของท่านตามนี้หรือไม่คะ",
        "Before we start, please read this short privacy notice:\n\n{notice}\n\n"
        "Do you agree that your data is kept and used as described?",
    ),
    # what storage does (storage/retention.py): each answer is purged `retention` days after it was
    # given, the participant row (profile, consent, chat account id) that long after their last message
    "notice": (
        "• วัตถุประสงค์: นำความคิดเห็นของท่านไปประกอบการจัดทำ (ร่าง) แผนพัฒนารัฐบาลดิจิทัล พ.ศ. 2566–2570\n"
        "• ข้อมูลที่เก็บ: คำตอบ ข้อคิดเห็น กลุ่มผู้มีส่วนได้ส่วนเสีย ภูมิภาค ช่วงอายุ (ถ้าระบุ) ภาษา "
        "และรหัสบัญชีแชตของท่าน ไม่เก็บชื่อหรือเบอร์โทรศัพท์\n"
        "• รหัสบัญชีแชต: ใช้ส่งข้อความถึงท่านในแชตนี้ ได้แก่ คำตอบต่อข้อความของท่าน การแจ้งเตือน "
        "(การประชุมที่ท่านลงทะเบียน หรือด้านที่ยังตอบไม่ครบ) ประกาศของ สพร. เกี่ยวกับการรับฟังความคิดเห็นนี้ "
        "และคำเชิญร่วมรอบที่ 2\n"
        "• ระยะเวลาเก็บ: คำตอบแต่ละข้อเก็บ {retention} วันนับจากวันที่ตอบ ข้อมูลอื่นของท่าน "
        "(รวมรหัสบัญชีแชต) เก็บ {retention} วันนับจากข้อความล่าสุดที่ท่านส่งมา แล้วลบ\n"
        "• ก่อนให้ความยินยอม หรือหากไม่ยินยอม: เก็บเพียงภาษาที่เลือกและขั้นตอนที่ท่านอยู่ในการสนทนา "
        "คู่กับรหัสบัญชีแชตของท่าน เพื่อให้คุยต่อได้ และจะลบทิ้งหากท่านไม่ได้ทักมาอีกภายใน {unconsented} วัน\n"
        "• รอบที่ 2: สพร. อาจเชิญผู้ที่ตอบด้านใดครบแล้วให้ดูภาพรวมคำตอบของผู้ตอบทุกคน (ไม่ระบุตัวตน) "
        "แล้วยืนยันหรือเปลี่ยนคำตอบ (ไม่บังคับ) คำตอบทั้งสองรอบเก็บและใช้ตามประกาศนี้\n"
        "• ผู้เห็นข้อมูล: เจ้าหน้าที่ สพร. และนักวิเคราะห์ของโครงการ โดยเห็นเป็นรหัสแฝง (pseudonym) "
        "ไม่ใช่บัญชีของท่าน\n"
        "• การเผยแพร่: ผลที่เผยแพร่เป็นภาพรวม และรายงานอาจยกข้อคิดเห็นที่ท่านพิมพ์มาเป็นตัวอย่าง "
        "โดยไม่ระบุผู้เขียน (ระบุเพียงกลุ่มผู้มีส่วนได้ส่วนเสียและภูมิภาค)\n"
        "• สิทธิของท่านตาม พ.ร.บ. คุ้มครองข้อมูลส่วนบุคคล พ.ศ. 2562: ขอดูข้อมูล (พิมพ์ “ข้อมูลของฉัน”) "
        "ขอลบและถอนความยินยอมได้ทุกเมื่อ (พิมพ์ “ลบข้อมูล”)\n"
        "• ติดต่อ: {contact}",
        "• Purpose: your views inform the draft Digital Government Development Plan 2023–2027.\n"
        "• What is kept: your answers and comments, stakeholder group, region, age band (if given), "
        "language and your chat account's id. No name or phone number.\n"
        "• Your chat account's id: to write to you in this chat: answers to your messages, reminders (of "
        "a session you registered for, or of an area you have not finished), DGA's announcements about "
        "this consultation, and the invitation to round 2.\n"
        "• How long: each answer {retention} days from when you gave it; the rest (your chat account's "
        "id included) {retention} days from your last message; then deleted.\n"
        "• Before you agree, or if you don't: only your language choice and your place in this conversation "
        "are kept, with your chat account's id so that we can carry on, and deleted if you don't write again "
        "within {unconsented} days.\n"
        "• Round 2: DGA may invite those who completed an area to see an overview of everyone's answers "
        "(anonymised) and keep or change theirs (optional); the answers of both rounds are kept and used as "
        "described here.\n"
        "• Who sees it: DGA staff and the project's analysts, under a pseudonym, not your account.\n"
        "• What is published: overall results; reports may quote comments you typed as examples, without "
        "their writer (with only the stakeholder group and region).\n"
        "• Your rights under Thailand's PDPA (B.E. 2562): see your data (type “my data”), delete it and "
        "withdraw consent at any time (type “delete my data”).\n"
        "• Contact: {contact}",
    ),
    "privacy_title": ("ประกาศความเป็นส่วนตัว (ฉบับวันที่ {version})", "Privacy notice (version of {version})"),
    # the consent question again, for a participant who consented to an earlier notice (REASK_VERSIONS)
    "consent_again": (
        "ประกาศความเป็นส่วนตัวมีฉบับใหม่ (ฉบับวันที่ {version}) ที่เพิ่มเรื่องการยกข้อคิดเห็นเป็นตัวอย่างในรายงาน "
        "โดยไม่ระบุผู้เขียน และการใช้รหัสบัญชีแชตของท่าน คำตอบเดิมของท่านยังอยู่ครบ กรุณาอ่านแล้วตอบอีกครั้งนะคะ"
        "\n\n{notice}\n\nท่านยินยอมให้เก็บและใช้ข้อมูลของท่านตามประกาศฉบับนี้หรือไม่คะ",
        "The privacy notice has a new version (of {version}): reports may quote comments as examples, "
        "without their writer, and it says how your chat account's id is used. Your answers are all still "
        "here. Please read it and answer again.\n\n{notice}\n\nDo you agree that your data is kept and used "
        "as this notice describes?",
    ),
    "consent_yes": ("ยินยอม", "I agree"),
    "consent_no": ("ไม่ยินยอม", "I do not agree"),
    "consent_thanks": (
        "ขอบคุณค่ะ ก่อนอื่นขอทราบข้อมูลเบื้องต้นของท่านสั้น ๆ 3 ข้อนะคะ",
        "Thank you. Three short questions about you first.",
    ),
    "reconsent_thanks": ("ขอบคุณค่ะ ทำต่อจากข้อเดิมได้เลยค่ะ", "Thank you. Let's carry on where you left off."),
    "declined": (
        "รับทราบค่ะ เราจะไม่บันทึกคำตอบใด ๆ ของท่าน สิ่งที่เก็บไว้มีเพียงภาษาที่เลือกและขั้นตอนที่ท่านอยู่ในการสนทนา "
        "คู่กับรหัสบัญชีแชตของท่าน เพื่อให้คุยต่อได้ และจะลบทิ้งหากท่านไม่ได้ทักมาอีกภายใน {days} วัน "
        "หากเปลี่ยนใจ กด “ยินยอม” หรือพิมพ์ “เริ่ม” ได้ทุกเมื่อค่ะ",
        "Understood: none of your answers will be recorded. We keep only your language choice and your place in "
        "this conversation, with your chat account's id so that we can carry on, and delete them if you don't "
        "write again within {days} days. If you change your mind, tap “I agree” or type “start”.",
    ),
    # declining a new notice after consenting to an earlier one: their answers are no longer used
    # (exports and outreach take consenting participants only) and go with the unconsented purge
    "reconsent_declined": (
        "รับทราบค่ะ ท่านถอนความยินยอมแล้ว คำตอบของท่านจะไม่ถูกนำไปใช้อีก และข้อมูลทั้งหมดของท่านจะถูกลบ "
        "หากท่านไม่ได้ทักมาอีกภายใน {days} วัน พิมพ์ “ลบข้อมูล” เพื่อลบทันที หรือกด “ยินยอม” หากเปลี่ยนใจค่ะ",
        "Understood: you have withdrawn your consent. Your answers will not be used any more, and everything "
        "about you is deleted if you don't write again within {days} days. Type “delete my data” to delete it "
        "now, or tap “I agree” if you change your mind.",
    ),
    "ask_group": ("ท่านอยู่ในกลุ่มใดคะ", "Which best describes you?"),
    "ask_region": ("ท่านอยู่ภูมิภาคใดคะ", "Which region are you in?"),
    "ask_age": ("ท่านอยู่ในช่วงอายุใดคะ (ไม่ตอบก็ได้ กด “ข้าม”)", "Your age band? (optional: tap “Skip”)"),
    "menu": (
        "เลือกด้านที่ท่านต้องการแสดงความคิดเห็นได้เลยค่ะ (✓ = ตอบครบแล้ว)",
        "Choose an area to comment on (✓ = completed).",
    ),
    "area_intro": (
        "{intro}\n\nระดับความพร้อมดิจิทัล:\n{levels}\n\n"
        "คำตอบบันทึกทันทีทุกข้อ กด “ย้อนกลับ” เพื่อแก้ข้อก่อนหน้า ข้อใดไม่แน่ใจเลือก “ไม่ทราบ” "
        "ส่วนข้อที่ไม่บังคับ (เช่น เหตุผล) กด “ข้าม” ได้ และพิมพ์ “พอแค่นี้ก่อน” เพื่อพักได้ทุกเมื่อค่ะ",
        "{intro}\n\nThe maturity levels:\n{levels}\n\n"
        "Every answer is saved as you go. Tap “Back” to change the previous one; where you aren't sure, "
        "choose “Don't know”; optional questions (such as “why?”) can be skipped with “Skip”; type "
        "“that's all for now” to pause at any time.",
    ),
    "progress": ("ขีดความสามารถ {n}/{total} · {area}", "Capability {n}/{total} · {area}"),
    "progress_closing": ("คำถามท้ายด้าน {n}/{total} · {area}", "Closing question {n}/{total} · {area}"),
    # a level's button, the plan's level marked (fits LINE's 20 characters; the plan lines say what it is)
    "mark_current": ("{level} ✓ตามแผน", "{level} (plan)"),
    "mark_target": ("{level} ✓ตามแผน", "{level} (plan)"),
    "capability": ("{text}", "{text}"),  # under the progress line, which says "ขีดความสามารถ 1/5"
    # a maturity level as every screen names it: its number and its stage, from the one level entry
    "level_named": ("ระดับ {level} {name}", "Level {level} {name}"),
    "current": ("ระดับปัจจุบัน: {level}", "Current level: {level}"),
    "target": ("เป้าหมายปี 2570: {level}", "2027 target: {level}"),
    # the card's heading: the capability's place in its area (the card's body names it)
    "card_heading": ("{n}/{total}", "{n}/{total}"),
    # "what do the levels mean": the button (within LINE's 20 characters) and the guide it shows
    "levels_button": ("ระดับหมายถึงอะไร?", "What levels mean?"),
    "levels_title": ("ระดับความพร้อมดิจิทัล", "The maturity levels"),
    "levels_about": ("ตัวอย่างจาก: {capability}", "Examples from: {capability}"),
    "levels_example": ("เช่น {text}", "e.g. {text}"),
    "previous_answer": ("(คำตอบเดิมของท่าน: {answer})", "(your answer so far: {answer})"),
    "type_text": (
        "(พิมพ์คำตอบได้ไม่เกิน {max} ตัวอักษร)",
        "(type your answer, up to {max} characters)",
    ),
    "too_long": (
        "ข้อความยาวเกินไป ({n} ตัวอักษร) กรุณาพิมพ์ไม่เกิน {max} ตัวอักษรค่ะ",
        "That message is too long ({n} characters). Please keep it to {max} characters.",
    ),
    "pick_option": (
        "ขออภัยค่ะ ไม่เข้าใจคำตอบนี้ กรุณากดปุ่มหรือพิมพ์หมายเลข 1–{n} นะคะ",
        "Sorry, I didn't understand. Please tap a button or type a number 1–{n}.",
    ),
    "empty_text": ("กรุณาพิมพ์คำตอบ หรือกด “ข้าม” ค่ะ", "Please type your answer, or tap “Skip”."),
    "unsupported": (
        "ขออภัยค่ะ รับได้เฉพาะข้อความ กรุณาพิมพ์หรือกดปุ่มนะคะ",
        "Sorry, I can only read text. Please type or tap a button.",
    ),
    "forwarded": (
        "ขออภัยค่ะ ข้อความที่ส่งต่อมาจะไม่นับเป็นคำตอบ กรุณาพิมพ์หรือกดปุ่มตอบเองนะคะ",
        "Sorry, forwarded messages are not taken as answers. Please type or tap your own answer.",
    ),
    "not_optional": (
        "ข้อนี้ข้ามไม่ได้ค่ะ หากไม่แน่ใจ เลือก “ไม่ทราบ” ได้ค่ะ",
        "This question can't be skipped; if you aren't sure, choose “Don't know”.",
    ),
    "nothing_to_skip": ("ตอนนี้ไม่มีคำถามให้ข้ามค่ะ", "There is no question to skip right now."),
    "at_start": ("นี่คือคำถามแรกแล้วค่ะ", "This is already the first question."),
    "changed": ("แก้คำตอบเป็น “{choice}” แล้วค่ะ ({question})", "Answer changed to “{choice}” ({question})."),
    "stale": (
        "ปุ่มนี้ใช้ไม่ได้แล้วค่ะ กรุณาตอบคำถามล่าสุดนะคะ",
        "That button is no longer valid; please answer the latest question.",
    ),
    "already_consented": ("ท่านให้ความยินยอมไว้แล้วค่ะ", "You have already given consent."),
    "area_done": (
        "ขอบคุณค่ะ ท่านตอบ{area}ครบแล้ว สรุปคำตอบของท่านมีดังนี้ค่ะ",
        "Thank you, you have completed {area}. Your answers:",
    ),
    "summary_item": ("• {capability}: {answers}", "• {capability}: {answers}"),
    "sum_current": ("ระดับปัจจุบัน {pick} (ร่างแผน {plan})", "current level {pick} (plan {plan})"),
    "sum_target": ("เป้าหมายปี 2570 {pick} (ร่างแผน {plan})", "2027 target {pick} (plan {plan})"),
    "sum_rating": ("ข้อ {n}: {value}", "Q{n}: {value}"),
    "your_picks": ("ท่านตอบ: {picks}", "You answered: {picks}"),
    "summary_texts": ("ข้อคิดเห็นที่พิมพ์ไว้: {n} ข้อ", "Comments written: {n}"),
    "another": (
        "ต้องการแสดงความคิดเห็นด้านอื่นต่อหรือไม่คะ หรือกด “พอแค่นี้ก่อน” เพื่อพักก็ได้ค่ะ",
        "Would you like to comment on another area? Or tap “That's all for now” to stop here.",
    ),
    "all_done": (
        "ท่านตอบครบทั้ง 6 ด้านแล้ว ความคิดเห็นของท่านจะนำไปประกอบการจัดทำร่างแผน ขอบคุณมากค่ะ",
        "You have completed every area. Thank you: your views will inform the draft plan.",
    ),
    "pause_button": ("พอแค่นี้ก่อน", "That's all for now"),
    "paused": (
        "บันทึกคำตอบไว้แล้วค่ะ พิมพ์ “เริ่ม” เมื่อต้องการทำต่อนะคะ",
        "Saved. Type “start” to carry on.",
    ),
    "resume": ("ยินดีต้อนรับกลับค่ะ ทำต่อจากข้อเดิมนะคะ", "Welcome back, let's continue where you left off."),
    # followed by the commands one can type, listed from bot/engine/commands.py
    "help_intro": (
        "วิธีใช้: กดปุ่มหรือพิมพ์คำตอบ (เช่น 1–5 หรือ “ไม่ทราบ”) คำตอบบันทึกทันทีทุกข้อ และพิมพ์คำเหล่านี้ได้ค่ะ:",
        "How to answer: tap a button or type (e.g. 1–5 or “don't know”); every answer is saved as you go. "
        "Things you can type:",
    ),
    "status": ("ความคืบหน้าของท่านมีดังนี้ค่ะ", "Your progress:"),
    "status_area": ("• {area}: {state}", "• {area}: {state}"),
    "st_done": ("ตอบครบแล้ว", "completed"),
    "st_doing": ("ตอบแล้ว {n}/{total} ขีดความสามารถ", "{n}/{total} capabilities answered"),
    "st_none": ("ยังไม่เริ่ม", "not started"),
    "status_none": ("ท่านยังไม่ได้เริ่มตอบแบบสอบถามค่ะ", "You haven't started a survey yet."),
    "confirm_delete": (
        "ยืนยันการลบข้อมูลทั้งหมดของท่าน (คำตอบ ข้อคิดเห็น และข้อมูลเบื้องต้น) หรือไม่คะ ลบแล้วกู้คืนไม่ได้นะคะ",
        "Delete everything about you (answers, comments and profile)? This cannot be undone.",
    ),
    "delete_yes": ("ยืนยันลบ", "Yes, delete"),
    "delete_no": ("ยกเลิก", "Cancel"),
    "deleted": (
        "ลบข้อมูลทั้งหมดของท่านและถอนความยินยอมแล้ว ขอบคุณที่ร่วมแสดงความคิดเห็นค่ะ ส่งข้อความใดก็ได้หากต้องการเริ่มใหม่ค่ะ",
        "Everything about you has been deleted and your consent withdrawn. Thank you. Send any message to start again.",
    ),
    "unsent": (
        "ท่านยกเลิกข้อความไปแล้ว จึงลบคำตอบจากข้อความนั้นให้แล้วค่ะ ({question})",
        "You unsent a message, so the answer it gave has been deleted ({question}).",
    ),
    "unsent_later": (
        "ข้อนี้จำเป็นต้องตอบ ระบบจะถามอีกครั้งเมื่อท่านกลับไปที่ด้านนี้ค่ะ",
        "This question needs an answer: it will be asked again when you return to that area.",
    ),
    "edit_unclear": (
        "ข้อความที่แก้ไขใช้เป็นคำตอบของข้อนี้ไม่ได้ จึงยังเก็บคำตอบเดิมไว้ค่ะ ({question})",
        "Your edited message can't be used as the answer, so the earlier answer stays ({question}).",
    ),
    "edit_closed": (
        "ขออภัยค่ะ ข้อนี้ปิดรับคำตอบแล้ว จึงแก้ไขคำตอบไม่ได้ คำตอบเดิมของท่านยังอยู่ค่ะ ({question})",
        "Sorry, this question has closed, so your edit was not applied: your earlier answer stays ({question}).",
    ),
    "delete_cancelled": ("ยกเลิกการลบแล้วค่ะ", "Deletion cancelled."),
    "mydata": ("ข้อมูลของท่านที่เราเก็บไว้มีดังนี้ค่ะ", "The data we keep about you:"),
    "mydata_profile": (
        "ภาษา: {language} · กลุ่ม: {group} · ภูมิภาค: {region} · อายุ: {age}\nให้ความยินยอมเมื่อ: {consent_at}",
        "Language: {language} · Group: {group} · Region: {region} · Age: {age}\nConsent given: {consent_at}",
    ),
    "mydata_more": (
        "(ข้อความยาวแสดงเพียงต้นข้อความ ฉบับเต็มอยู่ในไฟล์แนบ หากแอปของท่านรับไฟล์ได้ "
        "หรือพิมพ์ “/mydata 1” ถึง “/mydata {pages}” เพื่อดูฉบับเต็มทีละหน้าค่ะ)",
        "(long answers are shortened here. The full copy is in the attached file if your app can receive "
        "files, or type “/mydata 1” to “/mydata {pages}” to read it page by page.)",
    ),
    "mydata_page": ("ข้อมูลของท่าน ฉบับเต็ม หน้า {n}/{pages}", "Your data in full, page {n}/{pages}"),
    "mydata_none": ("เรายังไม่ได้เก็บข้อมูลใดของท่านค่ะ", "We don't hold any data about you."),
    "mydata_conversation": (
        "เราไม่ได้เก็บคำตอบหรือข้อมูลส่วนตัวใด ๆ ของท่าน เก็บไว้เพียงภาษาที่เลือก ({language}) "
        "และขั้นตอนที่ท่านอยู่ในการสนทนา คู่กับรหัสบัญชีแชตของท่าน เพื่อให้คุยต่อได้ "
        "และจะลบทิ้งหากท่านไม่ได้ทักมาอีกภายใน {days} วันค่ะ",
        "We hold none of your answers or personal details: only your language choice ({language}) and your "
        "place in this conversation, with your chat account's id so that we can carry on. They are deleted "
        "if you don't write again within {days} days.",
    ),
    "not_chosen": ("ยังไม่ได้เลือก", "not chosen yet"),
    "skip": ("ข้าม", "Skip"),
    "back": ("ย้อนกลับ", "Back"),
    "sessions": (
        "การประชุมระดมสมอง (Focus Group) ที่เปิดรับลงทะเบียนมีดังนี้ค่ะ",
        "Focus-group sessions open for registration:",
    ),
    "no_sessions": (
        "ขณะนี้ยังไม่มีการประชุมที่เปิดรับลงทะเบียนค่ะ",
        "There are no sessions open for registration right now.",
    ),
    "sessions_later": (
        "ดูและลงทะเบียนการประชุมได้หลังจากให้ความยินยอมและตอบข้อมูลเบื้องต้นแล้วค่ะ",
        "You can see and join sessions once you have consented and answered the profile questions.",
    ),
    "register_n": ("ลงทะเบียน {n}", "Register {n}"),
    "unregister_n": ("ยกเลิก {n}", "Cancel {n}"),
    "registered_mark": ("✓ ลงทะเบียนแล้ว", "✓ registered"),
    "full_mark": ("เต็มแล้ว", "full"),
    "seats_left": ("ว่าง {n} ที่", "{n} seats left"),
    "registered": (
        "ลงทะเบียนแล้วค่ะ: {title}\nวันเวลา: {when}\nสถานที่: {place}\nเราจะส่งข้อความเตือนก่อนการประชุมค่ะ",
        "You are registered: {title}\nWhen: {when}\nWhere: {place}\nWe will remind you before it starts.",
    ),
    "unregistered": ("ยกเลิกการลงทะเบียน {title} แล้วค่ะ", "Registration cancelled: {title}"),
    "already_registered": ("ท่านลงทะเบียน {title} ไว้แล้วค่ะ", "You are already registered for {title}."),
    "session_full": ("ขออภัยค่ะ {title} มีผู้ลงทะเบียนเต็มแล้วค่ะ", "Sorry, {title} is full."),
    "reminder": (
        "แจ้งเตือนการประชุม: {title}\nเริ่ม {when}\nสถานที่: {place}\nแล้วพบกันนะคะ",
        "Reminder: {title}\nStarts {when}\nWhere: {place}",
    ),
    "session_cancelled": (
        "ขออภัยค่ะ การประชุม {title} ({when}) ถูกยกเลิกแล้วค่ะ",
        "Sorry, the session {title} ({when}) has been cancelled.",
    ),
    "session_moved": (
        "แจ้งเปลี่ยนเวลา: การประชุม {title} ย้ายไปเป็น {when}\nสถานที่: {place}\nขออภัยในความไม่สะดวกค่ะ",
        "Rescheduled: {title} now starts {when}\nWhere: {place}",
    ),
    "nudge": (
        "ท่านยังตอบ{area}ไม่ครบ (ตอบแล้ว {done}/{total} ขีดความสามารถ) พิมพ์ “เริ่ม” เพื่อทำต่อจากข้อเดิมได้เลยค่ะ",
        "You haven't finished {area} yet ({done} of {total} capabilities answered). Type “start” to continue "
        "where you left off.",
    ),
    "broadcast_report": (
        "ประกาศ #{id} ส่งเสร็จแล้ว: สำเร็จ {sent} · ไม่สำเร็จ {failed} · ถูกบล็อก {blocked}",
        "Broadcast #{id} finished: sent {sent} · failed {failed} · blocked {blocked}",
    ),
    "flood": (
        "ส่งข้อความเร็วเกินไป ข้อความล่าสุดบางข้อความไม่ได้บันทึก กรุณารอสักครู่แล้วตอบใหม่ค่ะ",
        "You're sending messages too fast; some of your last messages were not recorded. Please wait a moment and answer again.",
    ),
    "try_later": (
        "ขออภัยค่ะ ระบบขัดข้องชั่วคราว จึงยังบันทึกข้อความล่าสุดของท่านไม่ได้ ระบบจะบันทึกให้เองเมื่อกลับมาใช้งานได้ "
        "ไม่ต้องส่งซ้ำ หากไม่มีคำถามถัดไปภายในไม่กี่นาที กรุณาลองใหม่ภายหลังค่ะ",
        "Sorry, we can't save your last message right now. It will be saved automatically as soon as we can: "
        "no need to send it again. If the next question doesn't come within a few minutes, please try again later.",
    ),
    "try_later_lost": (
        "ขออภัยค่ะ ระบบบันทึกคำตอบไม่ได้ชั่วคราว คำตอบล่าสุดยังไม่ถูกบันทึก กรุณาลองใหม่ภายหลังค่ะ",
        "Sorry, we can't save answers right now; your last answer was not saved. Please try again later.",
    ),
    "rejected": (
        "ขออภัยค่ะ ระบบบันทึกข้อความล่าสุดของท่านไม่ได้ เพราะมีอักขระหรือค่าที่ระบบเก็บไม่ได้ ข้อความนั้นจึงไม่ถูกบันทึก กรุณาพิมพ์ใหม่อีกครั้งค่ะ",
        "Sorry, your last message could not be recorded: it holds a character or value we cannot store, "
        "so it was not saved. Please type it again.",
    ),
    # ---- organizers' commands in chat (bot/admin.py): to the admin, in their language ----
    "admin_usage": (
        "คำสั่ง /{command} ใช้ไม่ได้ ไม่ได้ดำเนินการใด ๆ\n{usage}\n\n({detail})",
        "/{command} could not run; nothing was done.\n{usage}\n\n({detail})",
    ),
    "admin_usage_sessions": (
        'วิธีใช้: /sessions list · /sessions add --area พื้นที่ --title-th "ชื่อ" --title-en "title" '
        "--starts 2026-12-20T13:30 [--ends …] [--place …] [--capacity 1–100000] · /sessions cancel หมายเลข · "
        "/sessions move หมายเลข --starts … (วันเวลาแบบ ISO ปี ค.ศ. 2000–2100 ไม่ระบุเขตเวลาคือเวลากรุงเทพฯ)",
        'Usage: /sessions list · /sessions add --area AREA --title-th "…" --title-en "…" '
        "--starts 2026-12-20T13:30 [--ends …] [--place …] [--capacity 1–100000] · /sessions cancel ID · "
        "/sessions move ID --starts … (ISO 8601, years 2000–2100; no zone = Bangkok time)",
    ),
    "admin_usage_broadcast": (
        'วิธีใช้: /broadcast --to all|area:พื้นที่|session:หมายเลข --th "ข้อความภาษาไทย" --en "English text"',
        'Usage: /broadcast --to all|area:AREA|session:ID --th "Thai text" --en "English text"',
    ),
    "admin_usage_delphi": (
        "วิธีใช้: /delphi list · /delphi open พื้นที่ [วันปิด เช่น 2026-12-20] · /delphi close พื้นที่",
        "Usage: /delphi list · /delphi open AREA [closing date, e.g. 2026-12-20] · /delphi close AREA",
    ),
    "admin_usage_live": (
        "วิธีใช้: /live start หมายเลข · /live next · /live open ขีดความสามารถ · /live close · /live stop [หมายเลข] "
        "(--session หมายเลข เมื่อมีหลายการประชุม)",
        "Usage: /live start ID · /live next · /live open CAPABILITY · /live close · /live stop [ID] "
        "(--session ID when several are live)",
    ),
    "admin_usage_stats": ("วิธีใช้: /stats", "Usage: /stats"),
    "admin_usage_export": ("วิธีใช้: /export", "Usage: /export"),
    "admin_rejected": (
        "คำสั่ง /{command} ไม่ได้ดำเนินการ: ฐานข้อมูลไม่รับค่าบางค่าในคำสั่ง (เช่น อักขระควบคุมหรือตัวเลขที่ใหญ่เกินไป) กรุณาตรวจคำสั่งแล้วส่งใหม่",
        "/{command} was not run: the database refused a value in it (a control character, a number too large). "
        "Check it and send it again.",
    ),
    "admin_failed": (
        "คำสั่ง /{command} ไม่สำเร็จ: ฐานข้อมูลขัดข้องชั่วคราว คำสั่งนี้จะไม่ถูกทำซ้ำให้เอง "
        "กรุณาตรวจด้วย /sessions list หรือ /stats แล้วส่งใหม่ภายหลัง",
        "/{command} did not complete: the database is unavailable for now, and the command will not be retried. "
        "Check with /sessions list or /stats, then send it again later.",
    ),
    "not_given": ("ไม่ระบุ", "not given"),
    "dk_short": ("ไม่ทราบ", "don't know"),
    # ---- a Delphi round 2 (bot/engine/delphi.py, the invitation in bot/outreach.py) ----
    "delphi_invite": (
        "รอบที่ 2 ของ{area}เปิดแล้วค่ะ ท่านจะเห็นคำตอบรอบแรกของท่านเทียบกับภาพรวมคำตอบของผู้ตอบทุกคน "
        "(ไม่ระบุตัวตน) แล้วยืนยันหรือเปลี่ยนคำตอบได้{closes} ใช้เวลาไม่กี่นาที ไม่ตอบก็ได้ "
        "และคำตอบรอบแรกของท่านยังนับอยู่ค่ะ",
        "Round 2 of {area} is open: see your round-1 answers beside an overview of everyone's (anonymised) "
        "and keep or change them{closes}. It takes a few minutes and is optional; your round-1 answers still "
        "count.",
    ),
    "delphi_closes": (" (ปิดรับ {when})", " (until {when})"),
    "delphi_start": ("เริ่มรอบที่ 2", "Start round 2"),
    "delphi_menu_button": ("รอบ 2 · {area}", "Round 2 · {area}"),  # "รอบ 2": LINE's 20 characters
    "delphi_intro": (
        "รอบที่ 2 · {area}\nในแต่ละขีดความสามารถ ท่านจะเห็นคำตอบรอบแรกของท่านเทียบกับภาพรวมคำตอบรอบแรก "
        "(ผู้ตอบกี่คน ตอบระดับใดมากที่สุด และครึ่งหนึ่งตอบระหว่างระดับใด) กด “คงเดิม” หรือเลือกใหม่ได้ค่ะ "
        "หากเปลี่ยน บอกเหตุผลสั้น ๆ ได้ (ไม่บังคับ) ค่ะ",
        "Round 2 · {area}\nFor each capability you see your round-1 answer beside an overview of round 1 "
        "(how many answered, the level answered most, and the levels half of them answered between). Tap "
        "“Keep” or pick again; if you change it, you may say why (optional).",
    ),
    "delphi_progress": (
        "รอบที่ 2 · ขีดความสามารถ {n}/{total} · {area}",
        "Round 2 · capability {n}/{total} · {area}",
    ),
    "delphi_yours": ("คำตอบรอบแรกของท่าน: {answer}", "Your round-1 answer: {answer}"),
    "delphi_yours_now": ("คำตอบรอบที่ 2 ของท่านตอนนี้: {answer}", "Your round-2 answer so far: {answer}"),
    # round 1's overview in whole levels (bot.engine.delphi.overview says how each part is worked out)
    "delphi_group": ("ภาพรวมคำตอบรอบแรก: ผู้ตอบ {n} คน {most}", "Round 1 overall: {n} answered; {most}"),
    "delphi_group_half": ("{most} ({half})", "{most} ({half})"),
    "delphi_one": ("ตอบระดับ {level}", "they answered level {level}"),
    "delphi_all": ("ทุกคนตอบระดับ {level}", "all answered level {level}"),
    "delphi_most": ("ส่วนใหญ่ตอบระดับ {level}", "most answered level {level}"),
    "delphi_most_often": ("ตอบระดับ {level} มากที่สุด", "level {level} was answered most often"),
    "delphi_most_tied": ("ตอบระดับ {levels} มากที่สุดเท่ากัน", "levels {levels} were answered most, equally"),
    "delphi_and": ("{head} และ {last}", "{head} and {last}"),
    "delphi_half": ("ครึ่งหนึ่งตอบระหว่างระดับ {low}–{high}", "half answered between levels {low} and {high}"),
    "delphi_half_one": ("อย่างน้อยครึ่งหนึ่งตอบระดับ {level}", "at least half answered level {level}"),
    "delphi_middle": ("คำตอบกึ่งกลางคือระดับ {level}", "the middle answer is level {level}"),
    "delphi_middle_between": (
        "คำตอบกึ่งกลางอยู่ระหว่างระดับ {low} และ {high}",
        "the middle answers are levels {low} and {high}",
    ),
    "delphi_group_none": ("ภาพรวมคำตอบรอบแรก: ยังไม่มีผู้ตอบ", "Round 1 overall: nobody answered yet"),
    "delphi_none": ("ไม่ได้ตอบ", "none"),
    "delphi_keep": ("คงเดิม {answer}", "Keep {answer}"),
    "delphi_reason": (
        "ท่านเปลี่ยนจาก {old} เป็น {new} เพราะเหตุใดคะ (ไม่บังคับ) พิมพ์เหตุผล หรือกด “ข้าม” ได้ค่ะ",
        "You changed {old} to {new}: why? (optional) Type your reason, or tap “Skip”.",
    ),
    "delphi_pick": ("กรุณากด “คงเดิม” หรือเลือกคำตอบค่ะ", "Please tap “Keep” or pick an answer."),
    "delphi_done": (
        "ขอบคุณค่ะ ท่านตอบรอบที่ 2 ของ{area}ครบแล้ว คงเดิม {kept} ข้อ เปลี่ยน {changed} ข้อค่ะ",
        "Thank you, you have completed round 2 of {area}: {kept} kept, {changed} changed.",
    ),
    "delphi_closed": (
        "ขออภัยค่ะ รอบที่ 2 ของ{area}ปิดรับคำตอบแล้ว จึงไม่ได้บันทึกคำตอบนี้ ขอบคุณที่สนใจ คำตอบรอบแรกของท่านยังนับอยู่ค่ะ",
        "Sorry, round 2 of {area} has closed, so this answer was not recorded. Thank you: your round-1 answers "
        "still count.",
    ),
    "delphi_over": (
        "ขออภัยค่ะ รอบที่ 2 ของ{area}ปิดรับคำตอบแล้ว ขอบคุณที่สนใจ คำตอบรอบแรกของท่านยังนับอยู่ค่ะ",
        "Sorry, round 2 of {area} has closed. Thank you for your interest: your round-1 answers still count.",
    ),
    "delphi_not_eligible": (
        "รอบที่ 2 ของ{area}สำหรับผู้ที่ตอบรอบแรกครบแล้ว กรุณาตอบด้านนี้ให้ครบก่อนค่ะ",
        "Round 2 of {area} is for those who completed round 1: please complete the area first.",
    ),
    "delphi_round_label": ("{question} (รอบที่ {round})", "{question} (round {round})"),
    # ---- live focus-group sessions (issue 16): check-in, the room's questions, quota --------------
    "live_unknown": (
        "ไม่พบการประชุมที่ใช้รหัสนี้ หรือการประชุมจบแล้ว กรุณาตรวจรหัสบนจออีกครั้งค่ะ",
        "No live session has this code, or it has ended. Please check the code on the screen.",
    ),
    "live_first": (
        "ยินดีต้อนรับสู่ “{title}” ก่อนเข้าร่วม ขอเวลาตอบคำถามสั้น ๆ สองสามข้อค่ะ",
        "Welcome to “{title}”. A few quick questions first, then you are checked in.",
    ),
    "live_checked_in": (
        "ลงชื่อเข้าร่วม “{title}” แล้วค่ะ เมื่อผู้ดำเนินการเปิดขีดความสามารถแต่ละข้อ คำถามจะมาที่แชตนี้ ตอบได้ด้วยการแตะค่ะ",
        "You are checked in to “{title}”. When the facilitator opens a capability, its questions come to "
        "this chat: answer with a tap.",
    ),
    "live_already": ("ท่านลงชื่อเข้าร่วม “{title}” ไว้แล้วค่ะ", "You are already checked in to “{title}”."),
    "live_mark": (" (ในห้องประชุม)", " (in the room)"),
    "live_heading": ("ในห้องประชุม · {title}", "In the room · {title}"),
    "live_comment": (
        "ขอบคุณค่ะ หากมีความเห็นเพิ่มเติมเกี่ยวกับขีดความสามารถข้อนี้ พิมพ์ส่งได้เลยค่ะ (ไม่บังคับ)",
        "Thank you. Anything to add about this capability? Type it here (optional).",
    ),
    "live_thanks": ("บันทึกคำตอบแล้ว ขอบคุณค่ะ", "Thank you: your answer is saved."),
    "live_comment_saved": ("บันทึกความเห็นแล้ว ขอบคุณค่ะ", "Thank you: your comment is saved."),
    "live_closed": (
        "ขออภัยค่ะ ขีดความสามารถข้อนี้ปิดรับคำตอบในห้องประชุมแล้ว ขอบคุณที่ร่วมแสดงความคิดเห็น ท่านยังแสดงความเห็นในแบบสอบถามได้ตามปกติค่ะ",
        "Sorry, answers to this capability are closed for the session. Thank you for taking part: "
        "you can still give your views in the survey as usual.",
    ),
    "quota_refused": (
        "ไม่ได้ส่ง: {what} ต้องใช้ข้อความ LINE {need} ข้อความ แต่โควตาเดือนนี้เหลือ {left} "
        "(เพิ่มโควตาใน LINE Official Account Manager หรือส่งทาง Telegram)",
        "Not sent: {what} needs {need} LINE messages but only {left} are left in this month's quota "
        "(raise it in LINE Official Account Manager, or reach them on Telegram).",
    ),
    "quota_low": (
        "หมายเหตุ: หลังส่ง {what} โควตาข้อความ LINE เดือนนี้จะเหลือ {left}",
        "Note: after {what}, {left} LINE messages are left in this month's quota.",
    ),
    "live_wave": (
        "ส่งคำถามของ “{item}” ถึงผู้ลงชื่อเข้าร่วม {sent} คน (ไม่สำเร็จ {failed})",
        "The questions of “{item}” went to {sent} checked-in participant(s) ({failed} failed).",
    ),
}


def tr(lang: str | None, key: str, **values: object) -> str:
    """The message `key` in `lang`; both languages, Thai first, while the language is unknown."""
    th, en = MESSAGES[key]
    if lang is None:
        return f"{th.format(**values)}\n\n{en.format(**values)}"
    return (en if lang == "en" else th).format(**values)


def when(dt: datetime, lang: str | None, *, until: bool = False) -> str:
    """A moment in Bangkok time, the Thai way (`จ. 1 ธ.ค. 2569 เวลา 09:00 น.`, Buddhist Era) or English
    (`Mon 1 Dec 2026, 09:00`). `until`: the end of something open until `dt` (the first moment it is
    closed), so a midnight end reads as the last minute of the day before, the way Thai notices
    write a deadline ("ปิดรับ อา. 20 ธ.ค. 2569 เวลา 23:59 น." for a round that closes at 00:00 on the 21st)."""
    local = dt.astimezone(BANGKOK)
    if until and (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        local -= timedelta(minutes=1)
    if lang == "en":
        return f"{local:%a} {local.day} {local:%b %Y, %H:%M}"
    day, month = _TH_DAYS[local.weekday()], _TH_MONTHS[local.month - 1]
    return f"{day} {local.day} {month} {local.year + 543} เวลา {local:%H:%M} น."


def day(d: date | str, lang: str | None) -> str:
    """A date written out, the Thai way (`7 ธันวาคม 2569`, Buddhist Era) or English (`7 December 2026`);
    an ISO date string (a notice version) is read first."""
    if isinstance(d, str):
        d = date.fromisoformat(d)
    if lang == "en":
        return f"{d.day} {_EN_MONTHS_FULL[d.month - 1]} {d.year}"
    return f"{d.day} {_TH_MONTHS_FULL[d.month - 1]} {d.year + 543}"
